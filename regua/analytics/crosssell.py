"""Products bought together: support, confidence and lift of each ordered pair.

Baskets are orders. For products A and B over N baskets: support(A→B) = baskets with
both ÷ N; confidence(A→B) = baskets with both ÷ baskets with A; lift = confidence ÷
(baskets with B ÷ N). Pairs seen in fewer than `min_baskets` baskets are dropped as
noise. A product's recommendations are its top pairs by lift, then confidence.
"""

import polars as pl


def pairs(items: pl.DataFrame, *, min_baskets: int = 3, top: int = 5) -> pl.DataFrame:
    """sku, other, baskets, support, confidence, lift, rank (1 = best), top `top` per sku."""
    baskets = items.select("order_id", "sku").unique()
    total = baskets.get_column("order_id").n_unique()
    if total == 0:
        return pl.DataFrame(
            schema={
                "sku": pl.String,
                "other": pl.String,
                "baskets": pl.UInt32,
                "support": pl.Float64,
                "confidence": pl.Float64,
                "lift": pl.Float64,
                "rank": pl.UInt32,
            }
        )
    # Single-item baskets cannot pair; dropping them first keeps the self-join small.
    multi = baskets.filter(pl.len().over("order_id") > 1)
    per_sku = baskets.group_by("sku").agg(sku_baskets=pl.len())
    together = (
        multi.join(multi.rename({"sku": "other"}), on="order_id")
        .filter(pl.col("sku") != pl.col("other"))
        .group_by("sku", "other")
        .agg(baskets=pl.len())
        .filter(pl.col("baskets") >= min_baskets)
    )
    return (
        together.join(per_sku, on="sku")
        .join(per_sku.rename({"sku": "other", "sku_baskets": "other_baskets"}), on="other")
        .with_columns(
            support=pl.col("baskets") / total,
            confidence=pl.col("baskets") / pl.col("sku_baskets"),
        )
        .with_columns(lift=pl.col("confidence") / (pl.col("other_baskets") / total))
        .sort(["sku", "lift", "confidence", "other"], descending=[False, True, True, False])
        .with_columns(rank=pl.int_range(1, pl.len() + 1).over("sku").cast(pl.UInt32))
        .filter(pl.col("rank") <= top)
        .select("sku", "other", "baskets", "support", "confidence", "lift", "rank")
    )
