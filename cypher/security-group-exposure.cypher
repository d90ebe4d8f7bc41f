// name: security-group-exposure
// title: Security group opened to the internet
// description: AuthorizeSecurityGroupIngress or ModifySecurityGroupRules that open a group to 0.0.0.0/0 or
//   ::/0 (the open_to_world fact), with the ports and protocols opened; critical when remote access (SSH,
//   RDP) or every port is opened.
// severity: high
// attack: T1562.007/T1686.001
// family: exposure
// twin: security-group-exposure
// compares: the security groups of the twin's findings at medium or above
MATCH (p:GT)-[r]->(g:GT)
WHERE r.action IN ['AuthorizeSecurityGroupIngress', 'ModifySecurityGroupRules'] AND r.open_to_world = true
RETURN 'Security group ' + g.name + ' opened to the internet' AS title,
       CASE WHEN r.count = r.error_count THEN 'low'
            WHEN r.remote_access_open = true OR any(x IN coalesce(r.protocols, []) WHERE x IN ['-1', 'all'])
              THEN 'critical' ELSE 'high' END AS severity,
       p.key + ' opened ' + g.key + ' to the internet (ports ' + reduce(s = '', x IN coalesce(r.ports, []) | s + ' ' + toString(x)) +
         ', CIDRs ' + reduce(s = '', x IN coalesce(r.cidrs, []) | s + ' ' + x) + ') from ' + r.first_seen + '.' AS narrative,
       [p.key] AS principals, r.access_keys AS keys, r.source_ips AS ips, [g.key] AS resources,
       [{src: p.key, action: r.action, dst: g.key, time: r.first_seen, event_ids: r.event_ids[..3],
         source_ip: head(r.source_ips), access_key: head(r.access_keys)}] AS path
ORDER BY r.first_seen
