// name: attacker-tooling
// title: Calls made with an attacker tool's user agent
// description: Principals whose calls carry the user agent of an offensive distribution or tool (Kali,
//   Parrot, Pentoo, TruffleHog, Pacu), an adversary emulation tool (Stratus Red Team, Grimoire) or a bulk S3
//   client (S3 Browser, Cyberduck), read from the user agents aggregated on each action relationship.
// severity: high
// attack: T1078.004
// family: activity
// twin: attacker-tooling
// compares: the principals of the findings for the named tools (not the stale-SDK findings, which need each
//   event's time)
// param: agent_pattern = "(?i).*(distrib#kali|\\+kali|kali-(amd64|arm64|i386)|distrib#parrot|parrot-(amd64|arm64)|parrotsec|pentoo|trufflehog|\\bpacu\\b|pacu-session|stratus-red-team|grimoire_|S3 Browser|Cyberduck).*" -- a regular expression over user agents
MATCH (p:GT)-[r]->(t:GT)
WHERE r.structural = false AND any(agent IN r.user_agents WHERE agent =~ $agent_pattern)
WITH p, r, t, [agent IN r.user_agents WHERE agent =~ $agent_pattern] AS agents ORDER BY r.first_seen
WITH p, collect({src: p.key, action: r.action, dst: t.key, time: r.first_seen, event_ids: r.event_ids[..3],
                 source_ip: head(r.source_ips), access_key: head(r.access_keys)}) AS hops,
     collect(DISTINCT t.key) AS targets, sum(r.count) AS calls,
     reduce(acc = [], a IN collect(agents) | acc + a) AS matched,
     reduce(acc = [], k IN collect(r.access_keys) | acc + k) AS keys,
     reduce(acc = [], i IN collect(r.source_ips) | acc + i) AS addresses
RETURN 'Attacker tool used by ' + p.name AS title,
       p.key + ' made ' + toString(calls) + ' call(s) with the user agent(s) ' +
       reduce(s = '', a IN matched | s + ' [' + a + ']') + '.' AS narrative,
       [p.key] AS principals, keys, [a IN addresses WHERE NOT a ENDS WITH '.amazonaws.com'] AS ips,
       targets AS resources, hops[..20] AS path
ORDER BY head(hops).time
