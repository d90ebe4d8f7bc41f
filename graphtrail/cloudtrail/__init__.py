"""The one place that reads CloudTrail's raw keys.

`normalize_record` turns a raw record dict into a frozen `Event`; identity, credential issuance and the
per-action target table live beside it. Nothing outside this package looks at `userIdentity`,
`requestParameters` or any other raw key.
"""
