import pytest
from tests.signing.conftest import *
from epolicy.signing import signers
@pytest.mark.django_db
def test_x(pki, signature_png):
    sealed = signers.seal_document(make_pdf(kind="policy"), box=SEAL_BOX)
    c = signers.sign_application(sealed.pdf, box=APPLICANT_BOX, signer_name="张三", subject_serial="9f"*16, signature_png=signature_png)
    open("/tmp/s2.pdf","wb").write(c.pdf)
