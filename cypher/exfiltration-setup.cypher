// name: exfiltration-setup
// title: Data shared outside the organisation
// description: PutBucketReplication, PutBucketPolicy, PutBucketAcl and snapshot / AMI sharing that make data
//   public or send it to an account outside the organisation (own_accounts; by default the accounts whose
//   trail the case holds).
// severity: high
// attack: T1537
// family: exfiltration
// twin: exfiltration-setup
// compares: the shared resource (the target of the sharing hop) of the twin's findings at medium or above
// param: own_accounts = null -- the organisation's account ids (default: accounts whose trail is in the case)
WITH coalesce($own_accounts, COLLECT { MATCH (a:Account) WHERE a.logged = true RETURN a.key }) AS own
MATCH (p:GT)-[r]->(t:GT)
WHERE r.action IN ['PutBucketReplication', 'PutBucketPolicy', 'PutBucketAcl', 'ModifySnapshotAttribute',
                   'ModifyImageAttribute', 'ModifyDBSnapshotAttribute', 'ModifyDBClusterSnapshotAttribute']
WITH p, r, t, [x IN coalesce(r.shared_with, []) WHERE x =~ '\\d{12}' AND NOT x IN own] AS outside
WHERE r.public = true OR size(outside) > 0
RETURN CASE WHEN r.public = true THEN t.name + ' made public' ELSE t.name + ' shared with ' + reduce(s = '', x IN outside | s + ' ' + x) END AS title,
       CASE WHEN r.count = r.error_count THEN 'medium' ELSE 'high' END AS severity,
       p.key + ' ran ' + r.action + ' on ' + t.key + ' at ' + r.first_seen +
         CASE WHEN r.public = true THEN ', making it public' ELSE ', sharing it with' + reduce(s = '', x IN outside | s + ' ' + x) END + '.'
         AS narrative,
       [p.key] AS principals, r.access_keys AS keys, r.source_ips AS ips, [t.key] AS resources,
       [{src: p.key, action: r.action, dst: t.key, time: r.first_seen, event_ids: r.event_ids[..3],
         source_ip: head(r.source_ips), access_key: head(r.access_keys)}] AS path
ORDER BY r.first_seen
