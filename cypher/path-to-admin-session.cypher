// name: path-to-admin-session
// title: Shortest path from a key to an administrator session
// description: The shortest chain of control-handing relationships (AUTHENTICATES, MINTED, AssumeRole,
//   CreateAccessKey, ...: those marked traversable) from the access key `key` to a session of a role whose
//   name matches `admin_pattern`. Hops are aggregated relationships, so the path is not checked for time
//   order; `graphtrail path` gives the time-respecting answer from the case.
// severity: high
// attack: T1078.004, T1548.005
// family: paths
// param: key = null -- the access key id to start from (AKIA… / ASIA…); no rows without it
// param: admin_pattern = "(?i).*admin.*" -- regular expression over role names that count as administrator
// param: max_hops = 10 -- longest path searched
MATCH (k:AccessKey {key: $key})
MATCH (s:Session)-[:SESSION_OF]->(role:Role)
WHERE role.name =~ $admin_pattern
MATCH p = SHORTEST 1 (k)-[rels WHERE rels.traversable]->{1,12}(s)
WITH k, s, role, p, relationships(p) AS rs WHERE size(rs) <= $max_hops
WITH k, s, role, rs, nodes(p) AS ns ORDER BY size(rs) LIMIT 5
RETURN 'Path from ' + k.key + ' to administrator session ' + s.name AS title,
       k.key + ' reaches ' + s.key + ' (role ' + role.key + ') in ' + toString(size(rs)) + ' hop(s).' AS narrative,
       [n IN ns WHERE NOT n:AccessKey | n.key] AS principals, [n IN ns WHERE n:AccessKey | n.key] AS keys,
       [] AS ips, [role.key] AS resources,
       [i IN range(0, size(rs) - 1) | {src: ns[i].key, action: rs[i].action, dst: ns[i + 1].key,
         time: rs[i].first_seen, event_ids: coalesce(rs[i].event_ids, [])[..3],
         source_ip: head(coalesce(rs[i].source_ips, [])), access_key: head(coalesce(rs[i].access_keys, []))}] AS path
