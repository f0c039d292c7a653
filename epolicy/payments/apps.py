from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "epolicy.payments"
    label = "payments"
    verbose_name = "支付"

    def ready(self) -> None:
        from epolicy.common.errors import register_codes

        # A refund owed after a sale (epolicy.payments.services.payment_refund_owe).
        register_codes({"refund_exceeds_paid": (409, "退款金额超过已缴保费，请联系客服处理。")})
