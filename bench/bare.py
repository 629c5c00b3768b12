"""The limits: bare Django views that run one hand-written SQL statement and dump its rows.

No authentication, no scoping library, no serializer, no pagination count, no audit row: what is
left is the request cycle and the database's own work for the same answer. A real endpoint is
judged against these in the same run (``bench.run``), so a noisy machine moves both sides.
"""
import json

from django.db import connection
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt

from casemgmt.core.crypto import blind_index
from families.selectors import walk_threshold

# The fields of the API's family card (families.api.serializers.FamilyListSerializer), written the
# way PostgreSQL writes them: the limit gives the same answer, without masking or time zones.
MEMBER = """'id', m.id, 'name', m.name, 'relation', m.relation, 'sex', m.sex, 'birth_date', m.birth_date,
    'is_deceased', m.is_deceased"""
MEMBERS = f"""(SELECT coalesce(json_agg(json_build_object({MEMBER}) ORDER BY m.relation, m.id), '[]')
    FROM families_familymember m WHERE m.family_id = f.id)"""
CARD = """'id', f.id, 'file_number', f.file_number, 'category', f.category, 'region', f.region_id,
    'region_code', r.code, 'region_name', r.full_name, 'region_path', f.region_path, 'address', f.address,
    'residence', f.residence, 'status', f.status, 'status_reason', f.status_reason,
    'status_changed_at', f.status_changed_at, 'risk_level', f.risk_level, 'risk_reason', f.risk_reason,
    'risk_assessed_at', f.risk_assessed_at, 'registered_on', f.registered_on, 'last_checkin_at', f.last_checkin_at,
    'next_checkin_due', f.next_checkin_due, 'last_home_visit_at', f.last_home_visit_at,
    'next_home_visit_due', f.next_home_visit_due, 'notes', f.notes, 'version', f.version"""
FAMILY = f"""json_build_object({CARD}, 'members', {MEMBERS}, 'created_at', f.created_at, 'updated_at', f.updated_at)"""
REGION = "JOIN core_region r ON r.id = f.region_id"

CASELOAD = f"""SELECT coalesce(json_agg(page.j ORDER BY page.due, page.id), '[]') FROM (
    SELECT f.id, f.next_checkin_due AS due, {FAMILY} AS j FROM families_family f {REGION}
    WHERE f.id IN (SELECT a.family_id FROM families_contactassignment a WHERE a.user_id = %s AND a.ended_on IS NULL)
    ORDER BY f.next_checkin_due, f.id LIMIT 50) page"""

# A later page: the rows after the last one of the previous page, as a keyset cursor asks for them.
CASELOAD_AFTER = CASELOAD.replace(
    "AND a.ended_on IS NULL)", "AND a.ended_on IS NULL)\n    AND (f.next_checkin_due, f.id) > (%s, %s)")

# A family's page: its members with their ID numbers (ciphertext: a bare view does not decrypt) and
# its contacts with the user's name as the API writes it.
DETAIL = f"""SELECT json_build_object({CARD},
    'members', (SELECT coalesce(json_agg(json_build_object({MEMBER}, 'id_number', m.id_number)
        ORDER BY m.relation, m.id), '[]') FROM families_familymember m WHERE m.family_id = f.id),
    'contacts', (SELECT coalesce(json_agg(json_build_object('id', a.id, 'kind', a.kind, 'user', json_build_object(
        'id', u.id, 'username', u.username, 'name', coalesce(nullif(u.display_name, ''),
        nullif(btrim(u.first_name || ' ' || u.last_name), ''), u.username), 'role', u.role),
        'started_on', a.started_on) ORDER BY a.kind), '[]')
        FROM families_contactassignment a JOIN core_user u ON u.id = a.user_id
        WHERE a.family_id = f.id AND a.ended_on IS NULL),
    'created_at', f.created_at, 'updated_at', f.updated_at) FROM families_family f {REGION} WHERE f.id = %s"""

# The families a search finds, as families.selectors.family_search finds them: Chinese characters
# match the beginning of a member's name; Latin letters the beginning of a member's pinyin or
# initials, or of a file number (as typed or in capitals); an ID number its blind index exactly.
SEARCH_MATCH = {
    "name": "SELECT m.family_id FROM families_familymember m WHERE m.name LIKE %(prefix)s",
    "initials": """SELECT m.family_id FROM families_familymember m WHERE m.name_pinyin LIKE %(prefix)s
        UNION SELECT m.family_id FROM families_familymember m WHERE m.name_initials LIKE %(prefix)s
        UNION SELECT f.id FROM families_family f WHERE f.file_number LIKE %(prefix)s OR f.file_number LIKE %(upper)s""",
    "id_number": "SELECT m.family_id FROM families_familymember m WHERE m.id_number_index = %(q)s",
}
# Fetched by id, or, when the matches are many (families.selectors.walk_threshold), found by walking
# the file-number order with the matches in a hash: the cheaper of the two, chosen in the statement.
SEARCH = """WITH found AS MATERIALIZED ({match}),
    walk AS (SELECT count(*) >= %(threshold)s AS yes FROM (SELECT 1 FROM found LIMIT %(threshold)s) AS enough)
SELECT coalesce(json_agg(page.j ORDER BY page.file_number), '[]') FROM (
    SELECT f.file_number, {family} AS j FROM families_family f {region}
    WHERE f.id IN (
        (SELECT w.id FROM families_family w WHERE (SELECT yes FROM walk) AND w.region_path LIKE %(path)s
            AND CASE WHEN w.id IN (SELECT family_id FROM found) THEN true END ORDER BY w.file_number LIMIT 50)
        UNION ALL
        (SELECT p.id FROM families_family p WHERE NOT (SELECT yes FROM walk) AND p.region_path LIKE %(path)s
            AND p.id = ANY(ARRAY(SELECT family_id FROM found)) ORDER BY p.file_number LIMIT 50))
    ORDER BY f.file_number LIMIT 50) page"""

# A check-in: the row, the family's next due dates by its cadence rule (the deepest region's for its
# risk level, else 30 and 90 days, as families.services.cadence_rules_for), and the audit row.
CHECKIN = """WITH rule AS (
    SELECT r.contact_interval_days AS contact, r.home_visit_interval_days AS visit
    FROM families_family f JOIN families_cadencerule r ON r.risk_level = f.risk_level
    LEFT JOIN core_region g ON g.id = r.region_id
    WHERE f.id = %(family)s AND (r.region_id IS NULL OR f.region_path LIKE g.path || '%%')
    ORDER BY length(coalesce(g.path, '')) DESC LIMIT 1),
c AS (
    INSERT INTO families_checkin (created_at, updated_at, version, family_id, occurred_at, recorded_by_id, channel,
        physical_state, mental_state, mental_notes, difficulties, needs, help_given, follow_up, follow_up_due)
    VALUES (now(), now(), 1, %(family)s, now(), %(user)s, 'phone', 'fair', 'stable', '', '', '', '', '', NULL)
    RETURNING id, family_id, occurred_at),
u AS (
    UPDATE families_family f SET last_checkin_at = c.occurred_at, version = f.version + 1, updated_at = now(),
        next_checkin_due = (c.occurred_at AT TIME ZONE 'Asia/Shanghai')::date
            + coalesce((SELECT contact FROM rule), 30),
        next_home_visit_due = coalesce((f.last_home_visit_at AT TIME ZONE 'Asia/Shanghai')::date, f.registered_on)
            + coalesce((SELECT visit FROM rule), 90)
    FROM c WHERE f.id = c.family_id RETURNING f.id, f.next_checkin_due, f.region_path),
a AS (
    INSERT INTO core_auditevent (at, actor_id, actor_role, event, object_type, object_ids, family_id, region_path,
        before, after, reason, ip)
    SELECT now(), %(user)s, 'contact_person', 'families.checkin.recorded', 'families.checkin', jsonb_build_array(c.id),
        u.id, u.region_path, NULL, jsonb_build_object('channel', 'phone', 'occurred_at', c.occurred_at,
        'next_checkin_due', u.next_checkin_due), '', NULL FROM c, u)
SELECT json_build_object('id', c.id, 'family', u.id, 'next_checkin_due', u.next_checkin_due) FROM c, u"""


def _dump(sql, params):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    body = row[0] if row else None
    return HttpResponse(body if isinstance(body, str) else json.dumps(body, default=str), content_type="application/json")


def caseload(request):
    if "after_id" in request.GET:
        return _dump(CASELOAD_AFTER, [int(request.GET["user"]), request.GET["after_due"], int(request.GET["after_id"])])
    return _dump(CASELOAD, [int(request.GET["user"])])


def family_detail(request, pk):
    return _dump(DETAIL, [pk])


def search(request):
    kind, q, path = request.GET["kind"], request.GET["q"], request.GET.get("path", "")
    if kind == "id_number":
        q = blind_index(q, "id_number")
    threshold = walk_threshold(path=path) or 2**31 - 1
    params = {"path": path + "%", "q": q, "prefix": q + "%", "upper": q.upper() + "%", "threshold": threshold}
    return _dump(SEARCH.format(family=FAMILY, region=REGION, match=SEARCH_MATCH[kind]), params)


@csrf_exempt
def checkin(request):
    body = json.loads(request.body)
    return _dump(CHECKIN, {"family": int(body["family"]), "user": int(body["user"])})
