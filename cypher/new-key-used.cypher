// name: new-key-used
// title: New access key for another user used soon after its creation
// description: A key created by one principal for another user and used within `window_seconds` of its
//   creation (its first call from any address, read from the key's FROM_IP relationships): the backdoor key
//   put to work. A principal's own new key needs the owner's address history, which the aggregated graph does
//   not hold per call; `graphtrail hunt --only new-key-used` reports those.
// severity: high
// attack: T1098.001, T1078.004
// family: keys
// twin: new-key-used
// compares: the keys of the twin's findings for keys created for another user (category persistence:backdoor-key-used)
// param: window_seconds = 3600 -- how soon after its creation a use counts
MATCH (creator:GT)-[c:CreateAccessKey]->(k:AccessKey)-[:AUTHENTICATES]->(owner:GT)
WHERE creator <> owner AND c.count > c.error_count
MATCH (k)-[u:FROM_IP]->(ip:IP)
WITH creator, c, k, owner, min(u.first_seen) AS first_use, collect(ip.key) AS addresses
WHERE first_use >= c.first_seen
  AND duration.inSeconds(datetime(c.first_seen), datetime(first_use)).seconds <= $window_seconds
OPTIONAL MATCH (owner)-[r]->(t:GT)
WHERE r.structural = false AND k.key IN r.access_keys
WITH creator, c, k, owner, first_use, addresses, r, t ORDER BY r.first_seen
WITH creator, c, k, owner, first_use, addresses,
     [hop IN collect({src: owner.key, action: r.action, dst: t.key, time: r.first_seen, event_ids: r.event_ids[..3],
                      source_ip: head(r.source_ips), access_key: k.key}) WHERE hop.action IS NOT NULL] AS used
RETURN 'Key ' + k.key + ' for ' + owner.name + ' used soon after ' + creator.name + ' created it' AS title,
       creator.key + ' created ' + k.key + ' for ' + owner.key + ' at ' + c.first_seen + '; first used at ' +
         first_use + ' from' + reduce(s = '', a IN addresses | s + ' ' + a) + '.' AS narrative,
       'persistence:backdoor-key-used' AS category,
       [creator.key, owner.key] AS principals, [k.key] + c.access_keys AS keys, addresses AS ips, [] AS resources,
       [{src: creator.key, action: 'CreateAccessKey', dst: k.key, time: c.first_seen, event_ids: c.event_ids[..3],
         source_ip: head(c.source_ips), access_key: head(c.access_keys)}] + used[..10] AS path
ORDER BY c.first_seen
