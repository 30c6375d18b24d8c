"""``RegionInfo`` and the list of regions, as ``boto.regioninfo`` / ``boto.kinesis.regions()``."""

from __future__ import annotations

from typing import Any, Optional

# Regions where Kinesis Data Streams runs. Any well-formed region name works with
# connect_to_region(); this list is what regions() reports.
KINESIS_REGIONS = (
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "cn-north-1",
    "cn-northwest-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-gov-east-1",
    "us-gov-west-1",
    "us-west-1",
    "us-west-2",
)


def default_endpoint(region_name: str) -> str:
    suffix = "amazonaws.com.cn" if region_name.startswith("cn-") else "amazonaws.com"
    return f"kinesis.{region_name}.{suffix}"


class RegionInfo:
    """A region and its Kinesis endpoint; ``connect()`` opens a connection to it."""

    def __init__(
        self,
        connection: Any = None,
        name: Optional[str] = None,
        endpoint: Optional[str] = None,
        connection_cls: Any = None,
    ) -> None:
        self.connection = connection
        self.name = name
        self.endpoint = endpoint if endpoint is not None else (default_endpoint(name) if name else None)
        self.connection_cls = connection_cls

    def __repr__(self) -> str:
        return f"RegionInfo:{self.name}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RegionInfo) and (self.name, self.endpoint) == (other.name, other.endpoint)

    def __hash__(self) -> int:
        return hash((self.name, self.endpoint))

    def connect(self, **kw_params: Any) -> Any:
        """Connect to this region, as ``boto.regioninfo.RegionInfo.connect``."""
        cls = self.connection_cls
        if cls is None:
            from kinesis.layer1 import KinesisConnection

            cls = KinesisConnection
        return cls(region=self, **kw_params)


def regions(connection_cls: Any = None) -> list[RegionInfo]:
    """Every region where Kinesis runs, as ``RegionInfo`` objects."""
    return [RegionInfo(name=name, connection_cls=connection_cls) for name in KINESIS_REGIONS]
