// name: cross-account-role-chains
// title: Role chains across accounts
// description: Chains of AssumeRole from session to session (each session's key assuming the next role)
//   that cross from one account into another, from their start (a principal no AssumeRole led to) to their
//   end: a map of who moves between the organisation's accounts, and through which roles.
// severity: info
// attack: T1078.004, T1550.001
// family: lateral
// param: max_hops = 6 -- longest chain followed
MATCH p = (start:GT)-[:AssumeRole]->+(end:Session)
WHERE NOT EXISTS { ()-[:AssumeRole]->(start) } AND NOT EXISTS { (end)-[:AssumeRole]->(:Session) }
  AND size(relationships(p)) <= $max_hops
WITH p, nodes(p) AS ns, relationships(p) AS rs
WITH p, ns, rs, reduce(acc = [], n IN ns | CASE WHEN n.account IS NULL OR n.account IN acc THEN acc ELSE acc + n.account END) AS accounts
WHERE size(accounts) > 1
RETURN 'Role chain across ' + toString(size(accounts)) + ' accounts from ' + ns[0].name AS title,
       CASE WHEN size(rs) >= 3 THEN 'medium' ELSE 'low' END AS severity,
       ns[0].key + ' chained ' + toString(size(rs)) + ' role assumption(s) through accounts' +
         reduce(s = '', a IN accounts | s + ' ' + a) + ' to ' + ns[-1].key + '.' AS narrative,
       [n IN ns | n.key] AS principals, reduce(acc = [], r IN rs | acc + r.access_keys) AS keys,
       [] AS ips, [n IN ns WHERE n:Session | n.role] AS resources,
       [i IN range(0, size(rs) - 1) | {src: ns[i].key, action: rs[i].action, dst: ns[i + 1].key,
         time: rs[i].first_seen, event_ids: rs[i].event_ids[..3],
         source_ip: head(rs[i].source_ips), access_key: head(rs[i].access_keys)}] AS path
ORDER BY rs[0].first_seen
