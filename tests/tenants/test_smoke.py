from marketplace.models import MarketplaceJob
from tests.factories.marketplace import make_job


def test_job_created_in_tenant_schema(tenant):
    # given / when
    job = make_job()
    # then
    assert MarketplaceJob.objects.filter(pk=job.pk).count() == 1
    assert job.status == "pending"
