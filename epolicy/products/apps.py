from django.apps import AppConfig


class ProductsConfig(AppConfig):
    name = "epolicy.products"
    label = "products"
    verbose_name = "产品"

    def ready(self) -> None:
        # The life engine's error codes, registered by its own module (epolicy.common.errors is below the
        # rules and does not import them).
        import epolicy.rules.life.errors  # noqa: F401
