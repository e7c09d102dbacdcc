"""The datasets capability's setup hook, called from DatahubConfig.ready(): navigation and the
entity page's section of linked dataset rows."""

from django.utils.translation import gettext_lazy as _


def setup() -> None:
    from cityos.navigation import NavItem, register
    from datahub.core.entity_sections import EntitySection
    from datahub.core.entity_sections import register as register_section

    register(NavItem("datasets", _("Dataset catalogue"), "datahub:dataset-catalogue", _("Data")))
    # The entity page lists the dataset rows entity resolution linked to the entity.
    register_section(
        EntitySection(
            key="dataset-records",
            title=_("Dataset records"),
            template_name="datahub/entity_dataset_records.html",
            context_function="datahub.datasets.selectors.entity_records_context",
            order=50,
        )
    )
