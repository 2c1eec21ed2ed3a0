"""A claim with a deadline (a lease) on one DynamoDB item, taken and kept by conditional updates.

A run takes the item from its free status into its held status, writing its own claim id and the
epoch second its claim ends (the run's own deadline, e.g. when its Lambda times out). While it
holds the lease, each of its writes is conditional on the item still being held under its claim
id; if the claim expired and another run took the item over, the write raises the lease's `lost`
exception and changes nothing. A lease whose deadline has passed can be taken over, so a run that
crashed or timed out holding it does not block the item for ever.

    lease = Lease(table, {"job_id": job_id}, free=PENDING, held=PROCESSING,
                  claim_attribute="claim_id", until_attribute="claimed_until", lost=ClaimLost)
    if lease.take(claim_id, now=now, until=deadline):
        lease.write(claim_id, "progress = :p", {":p": 50}, now=now)
        lease.write(claim_id, "#status = :done", {":done": "complete"}, now=now, release=True)

Every write also sets `updated_at` (shared.timestamps.iso) and the status attribute is `status`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from shared.timestamps import iso


class LeaseLost(Exception):
    """Another run holds the item now (this run's claim expired): nothing was written."""


def conditional_failed(error: ClientError) -> bool:
    """Whether DynamoDB refused a write because its condition did not hold."""
    return bool(error.response["Error"]["Code"] == "ConditionalCheckFailedException")


@dataclass(frozen=True)
class Lease:
    """The lease on the item at `key` of `table` (a boto3 Table)."""

    table: Any
    key: dict[str, Any]
    free: str  # the status a run takes the item from
    held: str  # the status while a run holds it
    claim_attribute: str  # holds the claim id of the run holding it
    until_attribute: str  # holds the epoch second that run's claim ends
    lost: type[LeaseLost] = LeaseLost

    def take(
        self,
        claim_id: str,
        *,
        now: float,
        until: float,
        requires: str = "",
        also: str = "",
        values: dict[str, Any] | None = None,
    ) -> bool:
        """free (or held under an expired claim) -> held by `claim_id` until `until`; False when
        the item is not there to take. `requires` is a further condition, `also` a further clause
        of the update (e.g. `ADD attempts :one`), `values` the placeholders they use."""
        return self._update(
            f"SET #status = :held, {self.claim_attribute} = :claim, {self.until_attribute} = :until, updated_at = :now"
            + (f" {also}" if also else ""),
            {**(values or {}), ":claim": claim_id, ":until": Decimal(int(until))},
            requires=requires,
            now=now,
        )

    def seize(self, sets: str, values: dict[str, Any], *, now: float, names: dict[str, str] | None = None) -> bool:
        """`SET sets` and drop any claim, only while no live claim holds the item (free, or held
        under an expired claim): for a write that must not race a run still working on it. False
        when a live claim holds it or the item is in another status (or gone)."""
        remove = f" REMOVE {self.claim_attribute}, {self.until_attribute}"
        return self._update(f"SET {sets}, updated_at = :now{remove}", values, now=now, names=names)

    def _update(
        self,
        expression: str,
        values: dict[str, Any],
        *,
        now: float,
        requires: str = "",
        names: dict[str, str] | None = None,
    ) -> bool:
        unclaimed = f"(#status = :free OR (#status = :held AND {self.until_attribute} < :epoch))"
        try:
            self.table.update_item(
                Key=self.key,
                UpdateExpression=expression,
                ConditionExpression=f"{requires} AND {unclaimed}" if requires else unclaimed,
                ExpressionAttributeNames={"#status": "status", **(names or {})},
                ExpressionAttributeValues={
                    **values,
                    ":held": self.held,
                    ":free": self.free,
                    ":epoch": Decimal(int(now)),
                    ":now": iso(now),
                },
            )
        except ClientError as error:
            if conditional_failed(error):
                return False
            raise
        return True

    def write(
        self,
        claim_id: str,
        sets: str,
        values: dict[str, Any],
        *,
        now: float,
        names: dict[str, str] | None = None,
        release: bool = False,
    ) -> None:
        """`SET sets` only while `claim_id` still holds the item; `release` also drops the claim.
        Raises `lost` (nothing written) when it does not."""
        remove = f" REMOVE {self.claim_attribute}, {self.until_attribute}" if release else ""
        try:
            self.table.update_item(
                Key=self.key,
                UpdateExpression=f"SET {sets}, updated_at = :now{remove}",
                ConditionExpression=f"#status = :held AND {self.claim_attribute} = :claim",
                ExpressionAttributeNames={"#status": "status", **(names or {})},
                ExpressionAttributeValues={**values, ":held": self.held, ":claim": claim_id, ":now": iso(now)},
            )
        except ClientError as error:
            if conditional_failed(error):
                raise self.lost(self.key) from None
            raise
