from __future__ import annotations

from django_tasks import task


@task()
def life_anniversaries_task() -> dict[str, int]:
    """Daily: allocate dividends and survival benefits of every policy whose anniversary has passed."""
    from .anniversary import life_anniversaries_process

    return life_anniversaries_process()
