"""Motor e-endorsements (批改, motor standard 4.3.5): the policy's current state (state), the changes
and their checks (changes), the workflow from request to sealed e-endorsement (services), and what the
pages and the API show (selectors)."""
