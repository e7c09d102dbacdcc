"""The matching engine: every enterprise against every active policy, set-based in SQL.

First the facts every criterion reads (industry, size, tags, valid licences, age, the yearly
indicator values and growths the criteria name…) go to a temporary table, one row per enterprise
in scope. Then one SELECT per active policy scans those facts once and keeps the enterprises none
of whose criteria is false (met true / false / NULL = unknown: the enterprise lacks the data), with
the explanation as JSON, one entry per criterion (built only for the kept rows): eligible when all
are true, possible when some are unknown. All SELECTs run as one INSERT … UNION ALL. Policies
marked automatic (免申即享) then get grant proposals for their eligible enterprises. Python loops
over the criteria to write the SQL, never over enterprise x policy.

A rerun is scoped: one enterprise changed → its rows for every policy; one policy changed →
every enterprise for that policy; nothing in scope is left stale (delete + upsert in one transaction).
"""

from datetime import date

from django.db import connection, models, transaction
from django.utils import timezone

from datahub import facade
from industry.models import Enterprise, Policy

from .common import event_dict

# Per-enterprise facts the criteria read, one row per enterprise in scope (a temporary table).
# Indicator values are added as columns iv0, iv1… (one per distinct metric / measure / year the
# criteria in scope use), each by one hash join on the yearly indicators.
_FACTS = """
CREATE TEMP TABLE _match_facts ON COMMIT DROP AS
SELECT x.*,
       -- each criterion kind's explanation value as JSON text, once per enterprise (not per pair)
       COALESCE(to_jsonb(NULLIF(x.industry_code, ''))::text, 'null') AS jv_industry,
       COALESCE(to_jsonb(NULLIF(x.size, ''))::text, 'null') AS jv_size,
       to_jsonb(x.tags)::text AS jv_tag,
       COALESCE(to_jsonb(x.area_id)::text, 'null') AS jv_area,
       COALESCE(to_jsonb(x.park_id)::text, 'null') AS jv_park,
       COALESCE(to_jsonb(x.age_years)::text, 'null') AS jv_age,
       to_jsonb(x.licences)::text AS jv_licence,
       to_jsonb(x.status)::text AS jv_status,
       -- the count is known only once the risk signals were computed (else the value is null too)
       CASE WHEN x.risk_known THEN to_jsonb(x.violations)::text ELSE 'null' END AS jv_no_violations
       {indicator_json}
FROM (
SELECT e.id, e.industry_code, e.section_code, e.size, e.area_id, e.park_id, e.location IS NULL AS no_location,
       e.founded_on, date_part('year', age(%(today)s::date, e.founded_on)) AS age_years, e.status,
       e.risk_computed_at IS NOT NULL AS risk_known,
       COALESCE(t.codes, '{}') AS tags, COALESCE(l.types, '{}') AS licences, COALESCE(v.n, 0) AS violations
       {indicator_columns}
FROM industry_enterprise e
LEFT JOIN (
    SELECT et.enterprise_id, array_agg(t.code ORDER BY t.code)::text[] AS codes
    FROM industry_enterprise_tags et JOIN industry_tag t ON t.id = et.tag_id
    WHERE (%(eids)s::bigint[] IS NULL OR et.enterprise_id = ANY(%(eids)s::bigint[]))
    GROUP BY 1
) t ON t.enterprise_id = e.id
LEFT JOIN (
    SELECT enterprise_id, array_agg(DISTINCT type)::text[] AS types
    FROM industry_licence
    WHERE (valid_to IS NULL OR valid_to >= %(today)s) AND (valid_from IS NULL OR valid_from <= %(today)s)
      AND (%(eids)s::bigint[] IS NULL OR enterprise_id = ANY(%(eids)s::bigint[]))
    GROUP BY 1
) l ON l.enterprise_id = e.id
LEFT JOIN (
    SELECT enterprise_id, count(*) AS n FROM industry_risksignal WHERE code = 'cases'
      AND (%(eids)s::bigint[] IS NULL OR enterprise_id = ANY(%(eids)s::bigint[]))
    GROUP BY 1
) v ON v.enterprise_id = e.id
{indicator_joins}
WHERE (%(eids)s::bigint[] IS NULL OR e.id = ANY(%(eids)s::bigint[]))
) x
"""

# Each criterion kind: (met expression, value expression) over the facts row `f`; {p} is the
# criterion's parameter prefix, {iv} its indicator column. met is true / false / NULL (unknown).
_KIND_SQL = {
    "industry": (
        "CASE WHEN f.industry_code = '' THEN NULL"
        " ELSE (f.industry_code = ANY(%({p}codes)s::text[]) OR f.section_code = ANY(%({p}codes)s::text[])) END",
        "f.jv_industry",
    ),
    "size": (
        "CASE WHEN f.size = '' THEN NULL ELSE f.size = ANY(%({p}codes)s::text[]) END",
        "f.jv_size",
    ),
    "tag": ("(f.tags && %({p}codes)s::text[])", "f.jv_tag"),
    "area": (
        "CASE WHEN f.area_id IS NULL THEN NULL ELSE f.area_id = ANY(%({p}area_ids)s::int[]) END",
        "f.jv_area",
    ),
    "park": (
        "CASE WHEN f.park_id IS NULL AND f.no_location THEN NULL"
        " ELSE f.park_id IS NOT DISTINCT FROM %({p}park)s::bigint END",
        "f.jv_park",
    ),
    "age": (
        "CASE WHEN f.founded_on IS NULL THEN NULL WHEN %({p}op)s = 'lte' THEN f.age_years <= %({p}number)s::float"
        " ELSE f.age_years >= %({p}number)s::float END",
        "f.jv_age",
    ),
    "indicator": (
        "CASE WHEN f.{iv} IS NULL THEN NULL WHEN %({p}op)s = 'lte' THEN f.{iv} <= %({p}number)s::float"
        " ELSE f.{iv} >= %({p}number)s::float END",
        "f.jv_{iv}",
    ),
    "licence": ("(f.licences && %({p}codes)s::text[])", "f.jv_licence"),
    "status": ("(f.status = 'active')", "f.jv_status"),
    "no_violations": (
        "CASE WHEN NOT f.risk_known THEN NULL ELSE f.violations = 0 END",
        "f.jv_no_violations",
    ),
}


def _criteria_in_scope(policy_ids, today: date, ref_year: int) -> dict[int, list[dict]]:
    """Active policies in scope → their criteria in order (a loop over criteria, not enterprises)."""
    from industry.models import Criterion

    qs = Criterion.objects.filter(policy__status="active").filter(
        models.Q(policy__valid_to__isnull=True) | models.Q(policy__valid_to__gte=today)
    )
    if policy_ids is not None:
        qs = qs.filter(policy_id__in=policy_ids)
    out: dict[int, list[dict]] = {}
    for c in qs.order_by("policy_id", "position", "id").values(
        "id", "policy_id", "kind", "codes", "area_ids", "park_id", "metric", "measure", "op", "number",
        "policy__reference_year",
    ):  # fmt: skip
        c["ref_year"] = c.pop("policy__reference_year") or ref_year
        out.setdefault(c["policy_id"], []).append(c)
    return out


def _evaluation_sql(policies: dict[int, list[dict]], params: dict) -> tuple[str, str, str, list[str]]:
    """(indicator columns, their JSON text, indicator joins, one SELECT per policy); fills params.

    Each policy's SELECT scans the facts once, keeps the enterprises none of whose criteria is
    false, and builds the explanation only for those (one entry per criterion, in order)."""
    combos: dict[tuple, int] = {}
    for crits in policies.values():
        for c in crits:
            if c["kind"] == "indicator":
                combos.setdefault((c["metric"], c["measure"] or "value", c["ref_year"]), len(combos))
    columns, joins = [], []
    for (metric, measure, year), j in combos.items():
        params[f"m{j}_metric"], params[f"m{j}_start"] = metric, date(year, 1, 1)
        joins.append(
            f"LEFT JOIN industry_indicator y{j} ON y{j}.enterprise_id = e.id AND y{j}.metric = %(m{j}_metric)s"
            f" AND y{j}.period = 'year' AND y{j}.period_start = %(m{j}_start)s"
        )
        if measure == "growth":
            params[f"m{j}_prev"] = date(year - 1, 1, 1)
            joins.append(
                f"LEFT JOIN industry_indicator q{j} ON q{j}.enterprise_id = e.id AND q{j}.metric = %(m{j}_metric)s"
                f" AND q{j}.period = 'year' AND q{j}.period_start = %(m{j}_prev)s"
            )
            columns.append(f", round(((y{j}.value / NULLIF(q{j}.value, 0) - 1) * 100)::numeric, 2)::float AS iv{j}")
        else:
            columns.append(f", y{j}.value AS iv{j}")
    selects = []
    for policy_id, crits in policies.items():
        mets, values, entries = [], [], []
        for k, c in enumerate(crits):
            p = f"c{int(c['id'])}_"
            iv = (
                f"iv{combos[(c['metric'], c['measure'] or 'value', c['ref_year'])]}" if c["kind"] == "indicator" else ""
            )
            met, value = (x.format(p=p, iv=iv) for x in _KIND_SQL[c["kind"]])
            params.update(
                {
                    f"{p}codes": list(c["codes"]),
                    f"{p}area_ids": list(c["area_ids"]),
                    f"{p}park": c["park_id"],
                    f"{p}op": c["op"],
                    f"{p}number": c["number"],
                }
            )
            mets.append(f"({met}) AS m{k}")
            values.append(f"{value} AS v{k}")
            # The entry as JSON text in jsonb's own key order (shortest key first), so the stored
            # jsonb's text compares equal to it and an unchanged match costs no JSON parse.
            entries.append(
                f'\'{{"met": \' || COALESCE(s.m{k}::text, \'null\') || \', "kind": "{c["kind"]}", "value": \''
                f" || s.v{k} || ', \"criterion\": {int(c['id'])}}}'"
            )
        n = len(crits)
        array_items = " || ', ' || ".join(entries)
        # Each criterion is evaluated once per enterprise (the OFFSET 0 subquery is not flattened,
        # so the WHERE, the status and the explanation read its column instead of re-evaluating it).
        selects.append(
            f"SELECT {int(policy_id)}::bigint AS policy_id, s.id AS enterprise_id,"  # noqa: S608 - fixed fragments, ids are ints
            f" CASE WHEN ({' AND '.join(f's.m{k}' for k in range(n))}) IS TRUE THEN 'eligible' ELSE 'possible' END"
            f" AS status, '[' || {array_items} || ']' AS criteria"
            f" FROM (SELECT f.id, {', '.join(mets)}, {', '.join(values)} FROM _match_facts f OFFSET 0) s"
            f" WHERE {' AND '.join(f's.m{k} IS NOT FALSE' for k in range(n))}"
        )
    json_columns = "".join(f", COALESCE(to_jsonb(x.iv{j})::text, 'null') AS jv_iv{j}" for j in combos.values())
    return "".join(columns), json_columns, "\n".join(joins), selects


def _scope_sql(prefix: str = "") -> str:
    return (
        f"(%(eids)s::bigint[] IS NULL OR {prefix}enterprise_id = ANY(%(eids)s::bigint[])) "
        f"AND (%(pids)s::bigint[] IS NULL OR {prefix}policy_id = ANY(%(pids)s::bigint[]))"
    )


def match_run(
    *, enterprise_ids: list[int] | None = None, policy_ids: list[int] | None = None, today: date | None = None
) -> dict:
    """Recompute the matches in scope (None = all); returns counts. Safe to run twice."""
    today = today or timezone.localdate()
    now = timezone.now()
    params = {
        "eids": list(enterprise_ids) if enterprise_ids is not None else None,
        "pids": list(policy_ids) if policy_ids is not None else None,
        "today": today,
        "ref_year": today.year - 1,
        "now": now,
    }
    with transaction.atomic(), connection.cursor() as cur:
        # The hash joins below cover every match in scope: keep them in memory (4 MB default).
        cur.execute("SET LOCAL work_mem = '256MB'")
        cur.execute("DROP TABLE IF EXISTS _match_new")
        cur.execute("DROP TABLE IF EXISTS _match_facts")
        # 1. The facts every criterion reads, one row per enterprise in scope.
        policies = _criteria_in_scope(policy_ids, today, params["ref_year"])
        columns, json_columns, joins, selects = _evaluation_sql(policies, params)
        facts = _FACTS.replace("{indicator_columns}", columns).replace("{indicator_json}", json_columns)
        cur.execute(facts.replace("{indicator_joins}", joins), params)
        # 2. The new matches (to a temporary table: no WAL): one scan of the facts per policy keeps
        # the enterprises with no criterion false; the stored matches are then changed only where
        # they differ, so a rerun with nothing new rewrites nothing.
        cur.execute(
            "CREATE TEMP TABLE _match_new (policy_id bigint, enterprise_id bigint, status text, criteria text)"
            " ON COMMIT DROP"
        )
        if selects:
            cur.execute("INSERT INTO _match_new " + "\nUNION ALL\n".join(selects), params)  # noqa: S608 - fixed fragments
        n_matches = cur.rowcount if selects else 0
        cur.execute("ANALYZE _match_new (policy_id, enterprise_id, status)")
        # 3. What differs from the stored matches in scope, new and gone alike: one hash full join
        # (the stored JSON compared as text: nothing is parsed for an unchanged match).
        cur.execute("DROP TABLE IF EXISTS _match_diff")
        cur.execute(
            """CREATE TEMP TABLE _match_diff ON COMMIT DROP AS
               SELECT COALESCE(n.policy_id, m.policy_id) AS policy_id, COALESCE(n.enterprise_id, m.enterprise_id)
                      AS enterprise_id, n.policy_id IS NULL AS gone, n.status, n.criteria, m.id AS match_id,
                      m.status AS old_status
               FROM _match_new n
               FULL JOIN (SELECT id, policy_id, enterprise_id, status, criteria FROM industry_match m WHERE """  # noqa: S608
            + _scope_sql("m.")
            + """) m ON m.policy_id = n.policy_id AND m.enterprise_id = n.enterprise_id
               WHERE m.id IS NULL OR n.policy_id IS NULL OR m.status <> n.status OR m.criteria::text <> n.criteria""",
            params,
        )
        cur.execute("ANALYZE _match_diff")
        cur.execute(
            "SELECT policy_id, enterprise_id FROM _match_diff"
            " WHERE status = 'eligible' AND old_status IS DISTINCT FROM 'eligible'"
        )
        newly = cur.fetchall()
        cur.execute(
            "DELETE FROM industry_match m USING _match_diff d WHERE d.gone AND d.match_id = m.id",
        )
        cur.execute(
            """UPDATE industry_match m SET status = d.status, criteria = d.criteria::jsonb, computed_at = %(now)s
               FROM _match_diff d WHERE d.match_id = m.id AND NOT d.gone""",
            params,
        )
        changed = cur.rowcount
        cur.execute(
            """INSERT INTO industry_match (policy_id, enterprise_id, status, criteria, computed_at)
               SELECT policy_id, enterprise_id, status, criteria::jsonb, %(now)s FROM _match_diff WHERE match_id IS NULL
               ON CONFLICT (policy_id, enterprise_id) DO UPDATE
               SET status = EXCLUDED.status, criteria = EXCLUDED.criteria, computed_at = EXCLUDED.computed_at""",
            params,
        )
        changed += cur.rowcount
        cur.execute("SELECT count(*) FROM _match_new WHERE status = 'eligible'")
        (n_eligible,) = cur.fetchone()
        # 免申即享: a proposal for each eligible enterprise of an automatic policy (once); proposals
        # whose enterprise no longer qualifies are withdrawn (confirmed grants stay).
        cur.execute(
            """INSERT INTO industry_grant (policy_id, enterprise_id, status, origin, amount, note, created_at)
               SELECT n.policy_id, n.enterprise_id, 'proposed', 'automatic', p.amount, '', %(now)s
               FROM _match_new n JOIN industry_policy p ON p.id = n.policy_id AND p.automatic
               WHERE n.status = 'eligible' AND NOT EXISTS (
                   SELECT 1 FROM industry_grant g WHERE g.policy_id = n.policy_id AND g.enterprise_id = n.enterprise_id)
               ON CONFLICT (policy_id, enterprise_id) DO NOTHING RETURNING policy_id, enterprise_id""",
            params,
        )
        proposed = cur.fetchall()
        # Proposals exist only for eligible matches (this function keeps it so): the ones to withdraw
        # are those whose match stopped being eligible, read from the difference (not every grant).
        cur.execute(
            """DELETE FROM industry_grant g USING _match_diff d
               WHERE d.old_status = 'eligible' AND d.status IS DISTINCT FROM 'eligible'
                 AND g.policy_id = d.policy_id AND g.enterprise_id = d.enterprise_id
                 AND g.status = 'proposed' AND g.origin = 'automatic'"""
        )
        withdrawn = cur.rowcount
        cur.execute("DROP TABLE _match_new")
        cur.execute("DROP TABLE _match_facts")
        cur.execute("DROP TABLE _match_diff")
        if policy_ids is not None or enterprise_ids is None:
            Policy.objects.filter(**({"id__in": policy_ids} if policy_ids is not None else {})).update(matched_at=now)
        _feedback(set(newly), proposed)
    return {
        "matches": n_matches,
        "eligible": n_eligible,
        "changed": changed,
        "newly_eligible": len(newly),
        "grants_proposed": len(proposed),
        "grants_withdrawn": withdrawn,
    }


_MAX_FEEDBACK = 50_000


def _feedback(newly: set, proposed: list) -> None:
    """The datahub event log gets each newly eligible match and each grant proposal (bulk)."""
    pairs = list(newly)[:_MAX_FEEDBACK]
    prop = proposed[:_MAX_FEEDBACK]
    ids = {e for _p, e in pairs} | {e for _p, e in prop}
    if not ids:
        return
    ents = {e.id: e for e in Enterprise.objects.filter(id__in=ids).only("id", "entity_id", "area_id", "location")}
    events = [
        event_dict(
            type="industry.policy_matched",
            enterprise=ents[e],
            payload={"policy_id": p},
            object_ref=f"industry:policy:{p}",
        )
        for p, e in pairs
        if e in ents
    ] + [
        event_dict(
            type="industry.grant_proposed",
            enterprise=ents[e],
            payload={"policy_id": p},
            object_ref=f"industry:policy:{p}",
        )
        for p, e in prop
        if e in ents
    ]
    facade.event_record_many(events=events)
