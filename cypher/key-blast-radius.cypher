// name: key-blast-radius
// title: Blast radius of an access key
// description: Everything the access key `key` reached: the principals and keys reachable through
//   control-handing (traversable) relationships, and each resource those principals called with those keys.
//   One row per resource, with the shortest control path to the caller. Aggregated relationships, so not
//   limited to calls after a time; `graphtrail blast-radius --since` is.
// severity: info
// attack: T1078.004
// family: paths
// param: key = null -- the access key id; no rows without it
MATCH (k:AccessKey {key: $key})
MATCH p = SHORTEST 1 (k)-[rels WHERE rels.traversable]->{0,12}(reached:GT)
WITH k, collect(p) AS paths, collect(reached) AS reached
WITH k, paths, [n IN reached WHERE n:AccessKey | n.key] AS keys, reached
UNWIND paths AS p
WITH k, keys, p, last(nodes(p)) AS caller
MATCH (caller)-[r]->(t:GT)
WHERE r.structural = false AND NOT r.traversable AND any(x IN r.access_keys WHERE x IN keys)
WITH k, keys, p, caller, t, collect(r) AS calls
WITH k, keys, t, relationships(p) + calls[..1] AS rs, nodes(p) + [t] AS ns, calls
RETURN 'Reached by ' + k.key + ': ' + t.name AS title,
       t.key + ' was called ' + toString(reduce(s = 0, r IN calls | s + r.count)) + ' time(s) (' +
         reduce(s = '', r IN calls | s + ' ' + r.action) + ') by ' + ns[-2].key + ', reached from ' + k.key + '.'
         AS narrative,
       [n IN ns WHERE NOT n:AccessKey AND n <> t | n.key] AS principals,
       [n IN ns WHERE n:AccessKey | n.key] AS keys, [] AS ips, [t.key] AS resources,
       [i IN range(0, size(rs) - 1) | {src: ns[i].key, action: rs[i].action, dst: ns[i + 1].key,
         time: rs[i].first_seen, event_ids: coalesce(rs[i].event_ids, [])[..3],
         source_ip: head(coalesce(rs[i].source_ips, [])), access_key: head(coalesce(rs[i].access_keys, []))}] AS path
