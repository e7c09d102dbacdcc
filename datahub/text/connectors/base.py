from dataclasses import dataclass, field

from datahub.text.services.documents import RawItem


@dataclass
class PullResult:
    items: list[RawItem] = field(default_factory=list)
    not_modified: bool = False
    etag: str = ""
    last_modified: str = ""
    status_code: int | None = None
    warnings: list[dict] = field(default_factory=list)
    requests: int = 0
