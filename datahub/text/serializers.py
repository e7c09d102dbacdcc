from rest_framework import serializers

from datahub.text.models import Document


class DocumentListSerializer(serializers.ModelSerializer):
    source_code = serializers.CharField(source="source.code", read_only=True)

    class Meta:
        model = Document
        fields = [
            "id",
            "source",
            "source_code",
            "run",
            "external_id",
            "title",
            "url",
            "author",
            "published_at",
            "language",
            "topic",
            "topic_confidence",
            "sentiment",
            "sentiment_score",
            "keywords",
            "area",
            "district",
            "cluster_id",
            "flagged_at",
        ]


class DocumentDetailSerializer(DocumentListSerializer):
    areas = serializers.SerializerMethodField()
    entities = serializers.SerializerMethodField()
    duplicates = serializers.SerializerMethodField()

    class Meta(DocumentListSerializer.Meta):
        fields = [*DocumentListSerializer.Meta.fields, "body", "areas", "entities", "duplicates"]

    def get_areas(self, obj) -> list[dict]:
        return [
            {
                "id": link.area_id,
                "name": link.area.name,
                "name_en": link.area.name_en,
                "level": link.area.level,
                "mention": link.mention,
            }
            for link in self.context["detail"]["areas"]
        ]

    def get_entities(self, obj) -> list[dict]:
        return [
            {"id": link.entity_id, "name": link.entity.name, "type": link.entity.type, "mention": link.mention}
            for link in self.context["detail"]["entities"]
        ]

    def get_duplicates(self, obj) -> list[dict]:
        return [
            {"id": d.id, "title": d.title, "source_code": d.source.code, "published_at": d.published_at}
            for d in self.context["detail"]["duplicates"]
        ]


class OpinionQuerySerializer(serializers.Serializer):
    days = serializers.IntegerField(min_value=1, max_value=366, default=14)
    bucket = serializers.ChoiceField(choices=["day", "hour"], default="day")
    topic = serializers.CharField(required=False, default="", allow_blank=True)
    area = serializers.IntegerField(required=False, allow_null=True, default=None)


class InternetSourceCreateSerializer(serializers.Serializer):
    code = serializers.SlugField(max_length=100)
    name = serializers.CharField(max_length=200)
    connector = serializers.ChoiceField(choices=["rss", "json_api", "push"])
    config = serializers.DictField(required=False, default=dict)
    every_minutes = serializers.IntegerField(min_value=1, max_value=7 * 24 * 60, required=False, default=30)

    def validate(self, attrs):
        if attrs["connector"] != "push" and not str(attrs["config"].get("url", "")).startswith(("http://", "https://")):
            raise serializers.ValidationError(
                {"config": ["config.url (http or https) is required for a pulled source"]}
            )
        return attrs
