from django.apps import AppConfig


class ProductsConfig(AppConfig):
    name = "epolicy.products"
    label = "products"
