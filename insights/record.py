"""The typed view of a CloudTrail record: only the fields the engine reads.

Declaring just these fields lets msgspec skip everything else in a ~1.4 KB record without building
Python objects for it, which is what makes decoding fast (DESIGN §6).
"""

from __future__ import annotations

import msgspec


class UserIdentity(msgspec.Struct, gc=False):
    """The part of ``userIdentity`` used for scoping and attributions."""

    arn: str | None = None
    accountId: str | None = None


class CloudTrailRecord(msgspec.Struct, gc=False):
    """One CloudTrail event record, reduced to the fields of DESIGN §1.

    Optional fields default to what CloudTrail means when they are absent: a record without
    ``eventCategory`` predates the field and is a management event; a missing ``errorCode`` is a
    success.
    """

    eventTime: str
    eventSource: str
    eventName: str
    awsRegion: str
    eventID: str | None = None
    recipientAccountId: str | None = None
    userIdentity: UserIdentity | None = None
    eventCategory: str = "Management"
    managementEvent: bool | None = None
    readOnly: bool | None = None
    eventType: str | None = None
    errorCode: str | None = None
    userAgent: str | None = None
