// name: key-created-for-other-user
// title: Access key created for someone else, or for root
// description: CreateAccessKey by one principal for another user, or any access key for a root user, and whether and from where
//   the new key was then used: the classic backdoor key. Also the hand-typed question "keys created by someone
//   other than their owner and then used" (the used ones are high).
// severity: medium
// attack: T1098.001
// family: persistence
// twin: persistence-chain
// compares: the keys that are the target of a CreateAccessKey hop in the twin's findings
MATCH (creator:GT)-[c:CreateAccessKey]->(k:AccessKey)-[:AUTHENTICATES]->(owner:GT)
WHERE creator <> owner OR owner:Root
OPTIONAL MATCH (k)-[u:FROM_IP]->(ip:IP)
WITH creator, c, k, owner, u, ip ORDER BY u.first_seen
WITH creator, c, k, owner, collect(ip.key) AS addresses, collect(u) AS uses
OPTIONAL MATCH (owner)-[r]->(t:GT)
WHERE size(uses) > 0 AND r.structural = false AND k.key IN r.access_keys
WITH creator, c, k, owner, addresses, uses, r, t ORDER BY r.first_seen
WITH creator, c, k, owner, addresses, uses,
     [hop IN collect({src: owner.key, action: r.action, dst: t.key, time: r.first_seen, event_ids: r.event_ids[..3],
                      source_ip: head(r.source_ips), access_key: k.key}) WHERE hop.action IS NOT NULL] AS used
RETURN 'Access key ' + k.key + ' created for ' + owner.name + ' by ' + creator.name AS title,
       CASE WHEN size(uses) > 0 THEN 'high' ELSE 'medium' END AS severity,
       creator.key + ' created ' + k.key + ' for ' + owner.key + ' at ' + c.first_seen +
         CASE WHEN size(uses) > 0 THEN '; the key was then used from' + reduce(s = '', a IN addresses | s + ' ' + a) +
           ' from ' + head(uses).first_seen ELSE '; the key has not been used' END + '.' AS narrative,
       [creator.key, owner.key] AS principals, [k.key] + c.access_keys AS keys, addresses AS ips, [] AS resources,
       [{src: creator.key, action: 'CreateAccessKey', dst: k.key, time: c.first_seen, event_ids: c.event_ids[..3],
         source_ip: head(c.source_ips), access_key: head(c.access_keys)}] + used[..10] AS path
ORDER BY c.first_seen
