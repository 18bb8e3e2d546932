"""Options of the genonaut tables beyond the spec's (app.md §3): densities and vocabulary shares
of the activity, bookmark, notification and analytics tables. Mixed into ``GenonautSettings``.

Defaults are what a deployment of the default size (500 users, 120k items) plausibly holds; the
app's own demo had almost none of these rows, so they cannot come from there (app.md §3, §5).
"""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator

#: app.md §1.8: the ``InteractionType`` enum (the response model rejects anything else).
INTERACTION_TYPES = ("view", "like", "share", "download", "bookmark", "comment", "rate")
DEFAULT_INTERACTION_WEIGHTS = {
    "view": 60.0,
    "like": 15.0,
    "rate": 8.0,
    "bookmark": 5.0,
    "download": 5.0,
    "share": 4.0,
    "comment": 3.0,
}
DEFAULT_ALGORITHMS = {"v1.0": 50.0, "v1.2": 30.0, "v2.0": 20.0}


def _weights(value: dict[str, float], allowed: tuple[str, ...] | None = None) -> dict[str, float]:
    if not value or any(w < 0 for w in value.values()) or not any(value.values()):
        raise ValueError("weights must be >= 0 and not all zero")
    if allowed is not None and set(value) - set(allowed):
        unknown = ", ".join(sorted(set(value) - set(allowed)))
        raise ValueError(f"{unknown}: not accepted by the app (choose from {', '.join(allowed)})")
    return value


class AppTableSettings(BaseModel):
    interactions_per_user: float = Field(
        40.0, ge=0, le=10_000, description="mean user_interactions per user (on content_items)"
    )
    interaction_type_weights: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_INTERACTION_WEIGHTS),
        description="user_interactions.interaction_type shares (the app's 7 words)",
    )
    recommendations_per_user: float = Field(
        20.0, ge=0, le=10_000, description="mean recommendations per user"
    )
    recommendation_served_share: float = Field(
        0.6, ge=0, le=1, description="share of recommendations already served"
    )
    algorithm_version_weights: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_ALGORITHMS),
        description="recommendations.algorithm_version shares",
    )
    tag_ratings_per_user_max: int = Field(
        10, ge=0, le=101, description="tag_ratings per user, uniform 0..max (pool tags)"
    )
    searches_per_user: float = Field(
        10.0, ge=0, le=10_000, description="mean user_search_history rows per user"
    )
    bookmarks_per_user: float = Field(
        15.0, ge=0, le=10_000, description="mean bookmarks per user (both content tables)"
    )
    bookmark_categories_max: int = Field(
        5, ge=0, le=12, description="named bookmark categories per user, uniform 0..max"
    )
    notification_user_share: float = Field(
        0.5, ge=0, le=1, description="share of users notified of their jobs (see README)"
    )
    notification_read_share: float = Field(
        0.6, ge=0, le=1, description="share of notifications already read"
    )
    route_analytics_rows: int = Field(
        50_000, ge=0, le=50_000_000, description="route_analytics rows (API requests logged)"
    )

    @field_validator("interaction_type_weights")
    @classmethod
    def _interaction_types(cls, value: dict[str, float]) -> dict[str, float]:
        return _weights(value, INTERACTION_TYPES)

    @field_validator("algorithm_version_weights")
    @classmethod
    def _algorithms(cls, value: dict[str, float]) -> dict[str, float]:
        if any(not 1 <= len(k) <= 50 for k in value):
            raise ValueError("algorithm versions must be 1-50 characters")
        return _weights(value)
