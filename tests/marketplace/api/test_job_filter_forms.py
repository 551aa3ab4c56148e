"""The job filter's form class is built once and its fields are shared by every form: each
request's form must still validate its own query, whatever another request's form held."""

from django.http import QueryDict

from marketplace.api.filters import JobFilter
from marketplace.models import MarketplaceJob


def _filter(query: str) -> JobFilter:
    return JobFilter(data=QueryDict(query), queryset=MarketplaceJob.objects.all())


def test_forms_share_fields_but_validate_their_own_query():
    # given one invalid and one valid query, validated in turn and then again
    bad, good = _filter("status=nope&marketplace=ebay"), _filter("status=failed&product_id=7")
    # when each is validated
    outcomes = [bad.is_valid(), good.is_valid(), _filter("status=nope").is_valid()]
    # then each form answers for its own data only, with the same field objects underneath
    assert outcomes == [False, True, False]
    assert set(bad.form.errors) == {"status"}
    assert good.form.errors == {}
    assert good.form.cleaned_data["status"] == ["failed"]
    assert good.form.cleaned_data["product_id"] == 7
    assert bad.form.fields["status"] is good.form.fields["status"]
