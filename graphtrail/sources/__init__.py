"""Readers: find log files (files, folders, archives, stdin) and unwrap the records in them.

They only read. Identities, graphs and CloudTrail field checks live downstream.
"""

from graphtrail.sources.files import LogFile, iter_log_files
from graphtrail.sources.limits import ReadLimits
from graphtrail.sources.records import Notice, RawRecord, RecordOrigin, Rejected, SkippedFile, SourceItem
from graphtrail.sources.shapes import read_records

__all__ = [
    "LogFile",
    "Notice",
    "RawRecord",
    "ReadLimits",
    "RecordOrigin",
    "Rejected",
    "SkippedFile",
    "SourceItem",
    "iter_log_files",
    "read_records",
]
