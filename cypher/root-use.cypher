// name: root-use
// title: Root user activity
// description: Any console sign-in or API call by an account's root user. Root should sign in only for the
//   few tasks that need it; a root access key should not exist.
// severity: high
// attack: T1078.004
// family: sign-in
// twin: root-use
// compares: the root principals of the findings
MATCH (root:Root)-[r]->(t:GT)
WHERE r.structural = false
WITH root, r, t ORDER BY r.first_seen
WITH root, collect({src: root.key, action: r.action, dst: t.key, time: r.first_seen, event_ids: r.event_ids[..3],
                    source_ip: head(r.source_ips), access_key: head(r.access_keys)}) AS hops,
     collect(DISTINCT r.action) AS actions, sum(r.count) AS calls,
     reduce(acc = [], k IN collect(r.access_keys) | acc + k) AS keys,
     reduce(acc = [], i IN collect(r.source_ips) | acc + i) AS addresses,
     collect(DISTINCT t.key) AS targets
RETURN 'Root user of account ' + coalesce(root.account, '?') + ' used' AS title,
       CASE WHEN any(k IN keys WHERE k STARTS WITH 'AKIA') OR 'CreateAccessKey' IN actions
            OR 'StopLogging' IN actions THEN 'critical' ELSE 'high' END AS severity,
       root.key + ' made ' + toString(calls) + ' call(s): ' + reduce(s = '', a IN actions | s + ' ' + a) + '.'
         AS narrative,
       [root.key] AS principals, keys, [a IN addresses WHERE NOT a ENDS WITH '.amazonaws.com'] AS ips,
       targets AS resources, hops[..20] AS path
ORDER BY head(hops).time
