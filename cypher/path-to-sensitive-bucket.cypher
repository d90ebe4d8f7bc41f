// name: path-to-sensitive-bucket
// title: Shortest path from a key to a sensitive bucket
// description: The shortest chain from the access key `key` through control-handing (traversable)
//   relationships to a principal that called the bucket whose name matches `bucket_pattern`, ending with that
//   call. Not checked for time order (aggregated relationships); `graphtrail path` checks it.
// severity: high
// attack: T1530, T1078.004
// family: paths
// param: key = null -- the access key id to start from; no rows without it
// param: bucket_pattern = null -- regular expression over bucket names or ARNs (e.g. ".*customer-data.*"); no rows without it
MATCH (k:AccessKey {key: $key})
MATCH (caller:GT)-[last]->(b:Resource)
WHERE b.type = 's3:bucket' AND (b.key =~ $bucket_pattern OR b.name =~ $bucket_pattern) AND last.structural = false
MATCH p = SHORTEST 1 (k)-[rels WHERE rels.traversable]->{1,12}(caller)
WITH k, b, last, relationships(p) AS rs, nodes(p) AS ns
ORDER BY size(rs) LIMIT 5
WITH k, b, rs + [last] AS rs, ns + [b] AS ns
RETURN 'Path from ' + k.key + ' to bucket ' + b.name AS title,
       k.key + ' reaches ' + b.key + ' in ' + toString(size(rs)) + ' hop(s), the last ' + last(rs).action + '.'
         AS narrative,
       [n IN ns WHERE NOT n:AccessKey AND NOT n:Resource | n.key] AS principals,
       [n IN ns WHERE n:AccessKey | n.key] AS keys, [] AS ips, [b.key] AS resources,
       [i IN range(0, size(rs) - 1) | {src: ns[i].key, action: rs[i].action, dst: ns[i + 1].key,
         time: rs[i].first_seen, event_ids: coalesce(rs[i].event_ids, [])[..3],
         source_ip: head(coalesce(rs[i].source_ips, [])), access_key: head(coalesce(rs[i].access_keys, []))}] AS path
