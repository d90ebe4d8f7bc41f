// name: outside-principals
// title: Principals from outside the organisation
// description: Principals (accounts, roots, users, roles, sessions) of an account outside the organisation
//   (own_accounts; by default the accounts whose trail the case holds) that called into it: who they are,
//   what they called and from where.
// severity: medium
// attack: T1078.004
// family: lateral
// param: own_accounts = null -- the organisation's account ids (default: accounts whose trail is in the case)
WITH coalesce($own_accounts, COLLECT { MATCH (a:Account) WHERE a.logged = true RETURN a.key }) AS own
MATCH (p:GT)-[r]->(t:GT)
WHERE (p:Account OR p:Root OR p:User OR p:Role OR p:Session OR p:FederatedUser)
  AND p.account IS NOT NULL AND p.account =~ '\\d{12}' AND NOT p.account IN own
  AND r.structural = false
WITH p, r, t ORDER BY r.first_seen
WITH p, collect({src: p.key, action: r.action, dst: t.key, time: r.first_seen, event_ids: r.event_ids[..3],
                 source_ip: head(r.source_ips), access_key: head(r.access_keys)}) AS hops,
     collect(DISTINCT r.action) AS actions, sum(r.count) AS calls, collect(DISTINCT t.key) AS targets,
     reduce(acc = [], k IN collect(r.access_keys) | acc + k) AS keys,
     reduce(acc = [], i IN collect(r.source_ips) | acc + i) AS addresses
RETURN p.name + ' of outside account ' + p.account + ' called in' AS title,
       p.key + ' (account ' + p.account + ', outside the organisation) made ' + toString(calls) + ' call(s):' +
         reduce(s = '', a IN actions | s + ' ' + a) + '.' AS narrative,
       [p.key] AS principals, keys, [a IN addresses WHERE NOT a ENDS WITH '.amazonaws.com'] AS ips,
       targets AS resources, hops[..20] AS path
ORDER BY head(hops).time
