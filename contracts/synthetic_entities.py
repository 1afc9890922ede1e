"""The synthetic stream's institutions as registry-like entities, with generated names.

``contracts/synthetic.py`` emits events for ``syn.<type>.<tier>_<k>`` institutions whose
subjects carry no names. Here each gets a deterministic name in both languages that says it is
synthetic ("Synthetic city commercial bank 042" / "合成城市商业银行042"), built from the
type and tier labels of ``taxonomies.yaml``; the ids and names do not depend on the seed.
"""

from __future__ import annotations

from typing import Any

from contracts.synthetic import POPULATION
from contracts.taxonomy import taxonomy

# what an institution of a type is called after its tier: (zh suffix, en noun)
NOUNS: dict[str, tuple[str, str]] = {
    "bank": ("", "bank"),  # the bank tiers' Chinese labels already say 银行 / 金融机构
    "insurance": ("保险公司", "insurer"),
    "securities": ("证券公司", "securities firm"),
}


def synthetic_name(institution_type: str, tier: str, number: int) -> tuple[str, str]:
    """The (Chinese, English) name of the ``number``-th synthetic institution of a type × tier."""
    tier_term = taxonomy("tier").term(tier)
    type_term = taxonomy("institution_type").term(institution_type)
    zh_suffix, en_noun = NOUNS.get(institution_type, (type_term.zh, type_term.en.lower()))
    return (
        f"合成{tier_term.zh}{zh_suffix}{number:03d}",
        f"Synthetic {tier_term.en.lower()} {en_noun} {number:03d}",
    )


def synthetic_entities() -> list[dict[str, Any]]:
    """One entity per synthetic institution (652), in the stream's population order: id,
    level, type, tier and generated names."""
    out = []
    for institution_type, tier, count, _ in POPULATION:
        for number in range(1, count + 1):
            name_zh, name_en = synthetic_name(institution_type, tier, number)
            out.append(
                {
                    "entity_id": f"syn.{institution_type}.{tier}_{number:03d}",
                    "level": "institution",
                    "institution_type": institution_type,
                    "tier": tier,
                    "name_zh": name_zh,
                    "name_en": name_en,
                }
            )
    return out
