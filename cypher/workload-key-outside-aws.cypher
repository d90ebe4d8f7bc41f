// name: workload-key-outside-aws
// title: Workload credentials used from outside AWS
// description: Session keys that AWS issued to an EC2 instance, a Lambda function or an ECS task (credential
//   lineage ec2-instance-profile or workload, or minted by the EC2, Lambda or ECS service) that were used from
//   an address outside AWS's published ranges: credentials taken from the workload and used elsewhere. Also
//   the hand-typed question "service-issued sessions used from outside AWS".
// severity: high
// attack: T1552.005, T1078.004
// family: lateral
// twin: workload-key-outside-aws
// compares: the access keys of the findings
// param: workload_methods = ["ec2-instance-profile", "workload"] -- lineage methods of workload-issued keys
// param: workload_services = ["ec2.amazonaws.com", "lambda.amazonaws.com", "ecs-tasks.amazonaws.com"] -- services that issue workload sessions
// param: trusted_addresses = [] -- addresses to treat as inside (corporate egress, VPN)
MATCH (k:AccessKey)-[:FROM_IP]->(ip:IP)
WHERE (k.lineage IN $workload_methods OR k.minted_by IN $workload_services)
  AND ip.is_aws = false AND NOT ip.key IN $trusted_addresses
WITH k, collect(ip.key) AS addresses
MATCH (k)-[:AUTHENTICATES]->(p:GT)
MATCH (p)-[r]->(t:GT)
WHERE r.structural = false AND k.key IN r.access_keys AND any(a IN r.source_ips WHERE a IN addresses)
WITH k, p, addresses, r, t ORDER BY r.first_seen
WITH k, p, addresses,
     collect({src: p.key, action: r.action, dst: t.key, time: r.first_seen, event_ids: r.event_ids[..3],
              source_ip: head([a IN r.source_ips WHERE a IN addresses]), access_key: k.key}) AS hops,
     collect(DISTINCT t.key) AS targets, sum(r.count) AS calls
OPTIONAL MATCH (issuer:GT)-[:MINTED]->(k)
RETURN 'Workload credentials of ' + p.name + ' used from outside AWS' AS title,
       p.key + "'s key " + k.key + ', issued by ' + coalesce(issuer.key, k.minted_by, 'an AWS service') +
       ' to a workload, made ' + toString(calls) + ' call(s) from ' + reduce(s = '', a IN addresses | s + ' ' + a) +
       ', outside AWS.' AS narrative,
       [p.key] AS principals, [k.key] AS keys, addresses AS ips, targets AS resources, hops[..20] AS path
ORDER BY head(hops).time
