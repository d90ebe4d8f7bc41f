// name: new-bucket-access
// title: Identity touching a bucket it never touched in the baseline
// description: S3 object calls (get, put, copy, delete, list) on a bucket by an identity whose first such call
//   on that bucket comes after the baseline: a workload role's sessions count as the role, a person's
//   Identity Center sessions as the person. Read from the first_seen of the aggregated relationships.
// severity: medium
// attack: T1530, T1619
// family: data-access
// twin: new-bucket-access
// compares: the (bucket) resources of the twin's findings
// param: baseline_end = null -- end of the baseline (default: baseline_fraction of the graph's time span)
// param: baseline_fraction = 0.3 -- share of the time span that is the baseline when baseline_end is not given
// param: object_calls = ["GetObject", "PutObject", "CopyObject", "DeleteObject", "DeleteObjects", "ListObjects", "ListObjectsV2", "ListBucket", "ListObjectVersions"] -- S3 object-level calls
WITH $baseline_end AS since, $baseline_fraction AS fraction
MATCH (actor:GT)-[r]->(b:Resource)
WHERE r.action IN $object_calls AND b.key STARTS WITH 'arn:' AND b.key CONTAINS ':s3:::'
OPTIONAL MATCH (actor)-[:SESSION_OF]->(role:Role)
WITH since, fraction, actor, r, b,
     CASE WHEN actor:Session AND (role.name STARTS WITH 'AWSReservedSSO_' OR actor.session_name CONTAINS '@')
            THEN 'person:' + toLower(actor.session_name)
          WHEN actor:Session THEN coalesce(role.key, actor.key)
          ELSE actor.key END AS identity
WITH since, identity, b, min(r.first_seen) AS first, collect({actor: actor, r: r}) AS calls
WHERE first >= since
UNWIND calls AS call
WITH identity, b, first, call.actor AS actor, call.r AS r ORDER BY r.first_seen
WITH identity, b, first,
     collect({src: actor.key, action: r.action, dst: b.key, time: r.first_seen, event_ids: r.event_ids[..3],
              source_ip: head(r.source_ips), access_key: head(r.access_keys)}) AS hops,
     collect(DISTINCT actor.key) AS actors, sum(r.count) AS calls, sum(r.error_count) AS refused,
     reduce(acc = [], k IN collect(r.access_keys) | acc + k) AS keys,
     reduce(acc = [], i IN collect(r.source_ips) | acc + i) AS addresses
RETURN identity + ' touched ' + b.name + ' for the first time' AS title,
       CASE WHEN calls = refused THEN 'low' ELSE 'medium' END AS severity,
       identity + ' first touched ' + b.key + ' at ' + first + ' (' + toString(calls) + ' call(s)), after the baseline.'
         AS narrative,
       actors AS principals, keys, [a IN addresses WHERE NOT a ENDS WITH '.amazonaws.com'] AS ips, [b.key] AS resources,
       hops[..20] AS path
ORDER BY first
