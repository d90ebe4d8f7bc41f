// name: defense-evasion
// title: Detection impaired
// description: Calls that turn off or narrow what would see an attacker (StopLogging, DeleteTrail, event
//   selectors that drop events, GuardDuty, Security Hub and Config tampering, flow-log and DNS-log deletion,
//   LeaveOrganization): the relationships graphtrail's action table marks with impairs_detection.
// severity: high
// attack: T1562.008/T1685.002, T1562.001/T1685
// family: evasion
// twin: defense-evasion
// compares: the principals of the findings
// param: worst = ["StopLogging", "DeleteTrail", "DeleteDetector", "DisableSecurityHub", "LeaveOrganization"] -- actions that blind the most
MATCH (p:GT)-[r]->(t:GT)
WHERE r.impairs_detection = true
WITH p, r, t ORDER BY r.first_seen
WITH p, collect({src: p.key, action: r.action, dst: t.key, time: r.first_seen, event_ids: r.event_ids[..3],
                 source_ip: head(r.source_ips), access_key: head(r.access_keys)}) AS hops,
     collect(DISTINCT r.action) AS actions, collect(DISTINCT t.key) AS targets,
     sum(r.count - r.error_count) AS succeeded,
     reduce(acc = [], k IN collect(r.access_keys) | acc + k) AS keys,
     reduce(acc = [], i IN collect(r.source_ips) | acc + i) AS addresses
RETURN 'Detection impaired: ' + reduce(s = '', a IN actions | s + CASE s WHEN '' THEN '' ELSE ', ' END + a) AS title,
       CASE WHEN succeeded = 0 THEN 'medium'
            WHEN any(a IN actions WHERE a IN $worst) AND size(actions) > 1 THEN 'critical'
            ELSE 'high' END AS severity,
       p.key + ' impaired detection: ' + reduce(s = '', a IN actions | s + ' ' + a) +
         '. Events after these calls may be missing from the logs.' AS narrative,
       [p.key] AS principals, keys, [a IN addresses WHERE NOT a ENDS WITH '.amazonaws.com'] AS ips,
       targets AS resources, hops AS path
ORDER BY head(hops).time
