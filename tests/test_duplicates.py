"""Duplicate detection before a duplicate exists (domain §6, issue 5 point 1): name and phone
normalisation, find_matches for each reason, masking, the name_norm column, the save rule (a near
match needs a reason) and the inline endpoint."""
import pytest

from models import db
from models.audit import AuditEvent
from models.customers import Customer, create_customer, save_contact, update_customer
from models.fields import normalize_phone
from models.duplicates import find_matches, name_core, normalize_name, similarity
from models.errors import ValidationError
from models.pools import Pool
from models.users import Region
from tests.conftest import valid_credit_code


def body(response):
    return response.get_data(as_text=True)


def form(**over):
    data = {"name": "", "short_name": "", "credit_code": "", "industry_id": "", "region_id": "", "city": "",
            "address": "", "phone": "", "website": "", "size": "", "business_model": "consumer",
            "source": "website", "first_channel": "", "tags": "", "group_name": ""}
    data.update(over)
    return data


# ---- normalisation ----------------------------------------------------------------------------

NAMES = [
    ("上海华东西装有限公司", "上海华东西装"),
    ("上海华东西装有限责任公司", "上海华东西装"),
    ("上海华东西装股份有限公司", "上海华东西装"),
    ("华东西装（上海）有限公司", "华东西装"),
    ("华东西装(上海)有限公司", "华东西装"),
    ("华东西装 (北京) 有限公司", "华东西装"),
    ("上海华东西装有限公司", "上海华东西装"),  # full-width letters below
    ("ＡＢＣ服饰（上海）有限公司", "abc服饰"),
    ("ABC 服饰 有限公司", "abc服饰"),
    ("杭州恒达牛仔集团股份有限公司", "杭州恒达牛仔"),
    ("杭州恒达牛仔集团", "杭州恒达牛仔"),
    ("宁波雅戈服饰有限公司杭州分公司", "宁波雅戈服饰有限公司杭州"),
    ("温州红蜻蜓衬衫厂", "温州红蜻蜓衬衫"),
    ("苏州·丝绸 有限公司", "苏州丝绸"),
    ("Acme Garments Co., Ltd.", "acmegarments"),
    ("集团公司", "集团"),  # never stripped down to nothing
    ("", ""),
]


@pytest.mark.parametrize("raw,expected", NAMES)
def test_normalize_name(raw, expected):
    assert normalize_name(raw) == expected


def test_look_alike_names_are_similar():
    base = normalize_name("上海华东西装有限公司")
    for other in ("上海华东西装有限责任公司", "华东西装（上海）有限公司", "上海华东西装（浦东）有限公司",
                  "上海华东西裝有限公司"):
        assert similarity(base, normalize_name(other)) >= 0.8, other
    assert similarity(base, normalize_name("北京燕莎商贸有限公司")) < 0.8
    assert name_core("华东西装（上海）有限公司") == name_core("上海华东西装有限公司") == "华东西装"


PHONES = [
    ("+86 138 0013 8000", "13800138000"),
    ("0086-13800138000", "13800138000"),
    ("138-0013-8000", "13800138000"),
    ("８６１３８００１３８０００", "13800138000"),
    ("021-6234 5678", "02162345678"),
    ("(021)62345678", "02162345678"),
    ("（021）6234-5678 转 801", "02162345678"),
    ("+86 21 6234 5678", "02162345678"),
]

# More formats as reps type them: dashes, spaces, +86 with and without the trunk 0, extensions, hotlines.
PHONES += [
    ("13800138000", "13800138000"), ("+86-138-0013-8000", "13800138000"), ("86 13800138000", "13800138000"),
    ("138 0013 8000", "13800138000"), ("0571-8765 4321", "057187654321"), ("0571 87654321", "057187654321"),
    ("+86 571 8765 4321", "057187654321"), ("(0571) 8765-4321 ext. 12", "057187654321"),
    ("400-820-8820", "4008208820"), ("021-62345678#801", "02162345678"), ("０２１－６２３４５６７８", "02162345678"),
    ("+86(0)21 6234 5678", "02162345678"),
]

# Real-looking company names (garment makers, brands with a bracketed country or city, groups).
REAL_NAMES = [
    ("上海锦绣服饰(集团)有限公司", "上海锦绣服饰"),
    ("上海锦绣服饰有限公司（浦东分公司）", "上海锦绣服饰"),
    ("上海 锦绣 服饰 有限公司", "上海锦绣服饰"),
    ("上海錦繡服飾有限公司", "上海锦绣服饰"),  # traditional characters
    ("【上海】锦绣服饰有限公司", "锦绣服饰"),
    ("浙江森马服饰股份有限公司", "浙江森马服饰"),
    ("雅戈尔集团股份有限公司", "雅戈尔"),
    ("江苏红豆实业股份有限公司", "江苏红豆实业"),
    ("海澜之家集团股份有限公司", "海澜之家"),
    ("安踏（中国）有限公司", "安踏"),
    ("李宁（中国）体育用品有限公司", "李宁体育用品"),
    ("太平鸟集团有限公司", "太平鸟"),
    ("七匹狼实业股份有限公司", "七匹狼实业"),
    ("深圳市腾讯计算机系统有限公司", "深圳市腾讯计算机系统"),
    ("華東西裝（上海）有限公司", "华东西装"),
]


@pytest.mark.parametrize("raw,expected", REAL_NAMES)
def test_real_company_names_normalise(raw, expected):
    assert normalize_name(raw) == expected


# 200 traditional characters common in company names, each with its simplified form (written out by
# hand, not taken from the converter).
TRADITIONAL_PAIRS = """
華华 東东 國国 際际 貿贸 業业 實实 發发 臺台 灣湾 電电 氣气 機机 廣广 藥药 醫医 療疗 銀银 證证 網网 絡络 軟软 體体 開开 關关
門门 匯汇 滬沪 間间 閩闽 閣阁 車车 軍军 輸输 運运 達达 連连 進进 遠远 邊边 遼辽 遷迁 選选 週周 過过 還还 適适 貨货 資资 財财
貢贡 賓宾 賣卖 買买 費费 貴贵 貸贷 賀贺 賬账 贏赢 購购 銷销 鐵铁 鋼钢 銅铜 鋁铝 鋅锌 錫锡 鎮镇 錦锦 鍋锅 鏈链 鑄铸 鍛锻 針针
釘钉 鈕钮 鏡镜 鐘钟 錶表 紡纺 織织 綢绸 絲丝 紗纱 線线 繡绣 綠绿 紅红 約约 純纯 細细 組组 經经 統统 維维 綜综 緣缘 編编 練练
縫缝 纖纤 續续 總总 纜缆 級级 紙纸 飾饰 飲饮 飯饭 館馆 裝装 製制 衛卫 設设 計计 訊讯 認认 詢询 譽誉 語语 誠诚 試试 說说 謝谢
議议 評评 課课 調调 諮咨 護护 讀读 團团 圖图 園园 圓圆 產产 廠厂 廈厦 庫库 廳厅 農农 豐丰 聯联 聰聪 億亿 價价 優优 傳传 儀仪
僑侨 倉仓 偉伟 備备 興兴 舉举 龍龙 鳳凤 鵬鹏 鴻鸿 濟济 鳥鸟 魚鱼 馬马 騰腾 驛驿 驅驱 陽阳 陸陆 隊队 險险 隨随 頭头 順顺 領领
頓顿 預预 顧顾 類类 額额 題题 項项 風风 飛飞 雲云 蘇苏 靈灵 寶宝 會会 協协 區区 縣县 鄉乡 號号 樓楼 樂乐 榮荣 樣样 橋桥 檢检
""".split()


def test_two_hundred_traditional_company_name_characters_become_simplified():
    assert len(TRADITIONAL_PAIRS) == 200 and len({p[0] for p in TRADITIONAL_PAIRS}) == 200
    wrong = []
    for traditional, simplified in TRADITIONAL_PAIRS:
        # Inside a name (a lone character could be read as a legal form or be too short to keep).
        got = normalize_name(f"{traditional}{traditional}测试有限公司")
        if got != f"{simplified}{simplified}测试":
            wrong.append(f"{traditional} → {got}")
    assert not wrong, wrong
    assert normalize_name("".join(t for t, _ in TRADITIONAL_PAIRS)) == "".join(s for _, s in TRADITIONAL_PAIRS)


@pytest.mark.parametrize("traditional,simplified", [
    ("華東國際貿易有限公司", "华东国际贸易有限公司"),
    ("廣州東莞發展實業有限公司", "广州东莞发展实业有限公司"),
    ("臺灣電氣機械股份有限公司", "台湾电气机械股份有限公司"),
    ("台灣藥業醫療集團", "台湾药业医疗集团"),
    ("華夏銀行證券有限責任公司", "华夏银行证券有限责任公司"),
    ("深圳網絡軟件科技有限公司", "深圳网络软件科技有限公司"),
    ("東莞製衣廠", "东莞制衣厂"),
])
def test_traditional_and_simplified_names_are_one_name(traditional, simplified):
    assert normalize_name(traditional) == normalize_name(simplified)


def test_simplified_names_are_left_as_they_are():
    for name in ("乾坤服饰", "余姚制衣", "皇后时装", "发达纺织", "台州里程"):
        assert normalize_name(name + "有限公司") == name


@pytest.mark.parametrize("a,b", [
    ("上海锦绣服饰有限公司", "上海锦绣服饰(集团)有限公司"),
    ("上海锦绣服饰有限公司", "上海錦繡服飾有限公司"),
    ("杭州恒达牛仔服饰有限公司", "恒达牛仔服饰（杭州）有限公司"),
    ("温州红蜻蜓衬衫厂", "温州红蜻蜓衬衫有限公司"),
])
def test_look_alikes_meet(a, b):
    assert normalize_name(a) == normalize_name(b) or similarity(normalize_name(a), normalize_name(b)) >= 0.8


@pytest.mark.parametrize("a,b", [("上海锦绣服饰有限公司", "上海华东西装有限公司"), ("雅戈尔集团", "七匹狼实业")])
def test_different_companies_do_not_meet(a, b):
    assert similarity(normalize_name(a), normalize_name(b)) < 0.8


@pytest.mark.parametrize("raw,expected", PHONES)
def test_phone_formats_normalise_alike(raw, expected):
    assert normalize_phone(raw) == expected


# ---- find_matches -------------------------------------------------------------------------------

@pytest.fixture
def world(make_user, make_team):
    east = Region.get(Region.code == "east")
    team = make_team(region=east)
    other_team = make_team(region=east)
    return {
        "rep": make_user("sales", team, full_name="王小明"),
        "other": make_user("sales", other_team, full_name="李娜"),
        "admin": make_user("admin"),
        "marketing": make_user("marketing"),
        "pool": Pool.get(Pool.region == east.id),
    }


def test_name_norm_is_kept_on_create_and_edit(world, make_customer):
    c = make_customer(name="华东西装（上海）有限公司")
    assert c.name_norm == "华东西装"
    update_customer(world["admin"], c, form(name="上海恒达牛仔有限公司"))
    assert Customer.get_by_id(c.id).name_norm == "上海恒达牛仔"


def test_same_credit_code(world, make_customer):
    c = make_customer(owner=world["other"], credit_code=valid_credit_code(501))
    matches = find_matches(world["rep"], credit_code=valid_credit_code(501).lower())
    assert [(m.id, m.reasons) for m in matches] == [(c.id, ["credit_code"])]
    assert not matches[0].needs_reason  # an exact code blocks instead


@pytest.mark.parametrize("typed", ["+86 138 0013 8000", "0086-13800138000", "138-0013-8000"])
def test_same_phone_of_a_contact(world, make_customer, typed):
    c = make_customer(owner=world["other"], name="杭州恒达牛仔有限公司")
    save_contact(world["admin"], c, {"name": "张伟", "mobile": "13800138000"})
    matches = find_matches(world["rep"], phone=typed)
    assert [(m.id, m.reasons) for m in matches] == [(c.id, ["phone"])]


def test_same_landline_of_the_customer_and_a_contacts_office_phone(world, make_customer):
    a = make_customer(owner=world["other"], name="杭州恒达牛仔有限公司", phone="021-6234 5678")
    b = make_customer(owner=world["other"], name="温州红蜻蜓衬衫厂")
    save_contact(world["admin"], b, {"name": "张伟", "phone": "021 62345678"})
    matches = find_matches(world["rep"], phone="(021)62345678")
    assert {m.id for m in matches} == {a.id, b.id}
    assert all(m.reasons == ["phone"] for m in matches)


def test_same_normalised_name(world, make_customer):
    c = make_customer(owner=world["other"], name="上海华东西装有限公司")
    matches = find_matches(world["rep"], name="上海华东西装有限责任公司")
    assert [(m.id, m.reasons) for m in matches] == [(c.id, ["name"])]
    assert find_matches(world["rep"], name="上海华东西装（浦东）有限公司")[0].reasons == ["name"]
    assert matches[0].needs_reason


def test_a_name_in_traditional_characters_finds_the_simplified_one(world, make_customer):
    c = make_customer(owner=world["other"], name="华东国际贸易有限公司")
    assert c.name_norm == "华东国际贸易"
    matches = find_matches(world["rep"], name="華東國際貿易有限公司")
    assert [(m.id, m.reasons) for m in matches] == [(c.id, ["name"])]
    t = make_customer(owner=world["other"], name="臺灣電氣機械股份有限公司")
    assert [m.id for m in find_matches(world["rep"], name="台湾电气机械有限公司")] == [t.id]


@pytest.mark.parametrize("typed", ["华东西装（上海）有限公司", "上海华东西装服饰有限公司", "ＨＤ上海华东西装有限公司"])
def test_similar_name(world, make_customer, typed):
    c = make_customer(owner=world["other"], name="上海华东西装有限公司")
    make_customer(name="北京燕莎商贸有限公司")
    matches = find_matches(world["rep"], name=typed)
    assert [(m.id, m.reasons) for m in matches] == [(c.id, ["similar_name"])]


def test_several_reasons_most_certain_first_and_exclude_self(world, make_customer):
    a = make_customer(owner=world["other"], name="上海华东西装有限公司", phone="13900139000",
                      credit_code=valid_credit_code(502))
    b = make_customer(name="华东西装（上海）有限公司")
    matches = find_matches(world["admin"], name="上海华东西装有限公司", phone="139 0013 9000",
                           credit_code=valid_credit_code(502))
    assert [m.id for m in matches] == [a.id, b.id]
    assert matches[0].reasons == ["credit_code", "phone", "name"]
    assert matches[1].reasons == ["similar_name"]
    assert [m.id for m in find_matches(world["admin"], name="上海华东西装有限公司", exclude_id=a.id)] == [b.id]
    assert find_matches(world["admin"], name="上海华东西装有限公司", limit=1)[0].id == a.id


def test_nothing_for_too_little_input(world, make_customer):
    make_customer(name="上海华东西装有限公司", phone="13900139000")
    assert find_matches(world["rep"]) == []
    assert find_matches(world["rep"], name="上", phone="139") == []


def test_where_the_match_is_owner_pool_or_lead(world, make_customer):
    owned = make_customer(owner=world["other"], name="上海华东西装有限公司")
    in_pool = make_customer(name="华东西装（杭州）有限公司")
    Customer.update(pool=world["pool"].id).where(Customer.id == in_pool.id).execute()
    lead = make_customer(name="华东西装（苏州）有限公司", stage="unidentified")
    by_id = {m.id: m for m in find_matches(world["rep"], name="华东西装（南京）有限公司", limit=10)}
    assert by_id[owned.id].owner == "李娜" and by_id[owned.id].pool is None
    assert by_id[in_pool.id].owner is None and by_id[in_pool.id].pool.name_zh == "华东公海"
    assert by_id[lead.id].lead
    # a rep sees (and may open) the pool customer of the region, not the other rep's
    assert not by_id[owned.id].can_view and by_id[in_pool.id].can_view and not by_id[lead.id].can_view


def test_similar_name_lookup_is_bounded(world, make_customer):
    """Many customers sharing the core: only a bounded number of candidates is scored."""
    import models.duplicates as d

    for i in range(d.CANDIDATES + 5):
        make_customer(name=f"华东西装{i:02d}号有限公司")
    matches = find_matches(world["rep"], name="华东西装00号有限公司", limit=50)
    assert 0 < len(matches) <= d.CANDIDATES


# ---- the save rule --------------------------------------------------------------------------------

def test_near_match_needs_a_reason_then_saves_with_it_audited(world, make_customer):
    c = make_customer(owner=world["other"], name="上海华东西装有限公司")
    before = Customer.select().count()
    with pytest.raises(ValidationError) as exc:
        create_customer(world["rep"], form(name="华东西装（上海）有限公司"))
    assert "duplicate_reason" in exc.value.errors
    assert Customer.select().count() == before
    new = create_customer(world["rep"], form(name="华东西装（上海）有限公司", duplicate_reason="另一家，浦东的分厂"))
    row = AuditEvent.get((AuditEvent.customer == new.id) & (AuditEvent.kind == "customer.created"))
    assert row.data["duplicate_reason"] == "另一家，浦东的分厂"
    assert row.data["duplicate_ids"] == [c.id]


def test_same_phone_needs_a_reason(world, make_customer):
    make_customer(owner=world["other"], name="杭州恒达牛仔有限公司", phone="021-6234 5678")
    with pytest.raises(ValidationError) as exc:
        create_customer(world["rep"], form(name="温州红蜻蜓衬衫厂", phone="(021)62345678"))
    assert list(exc.value.errors) == ["duplicate_reason"]


def test_no_match_no_reason_asked_and_plain_audit(world):
    c = create_customer(world["rep"], form(name="北京燕莎商贸有限公司"))
    row = AuditEvent.get((AuditEvent.customer == c.id) & (AuditEvent.kind == "customer.created"))
    assert "duplicate_reason" not in row.data


def test_exact_credit_code_still_blocks(world, make_customer):
    make_customer(owner=world["other"], credit_code=valid_credit_code(503))
    with pytest.raises(ValidationError) as exc:
        create_customer(world["rep"], form(name="北京燕莎商贸有限公司", credit_code=valid_credit_code(503),
                                           duplicate_reason="不是重复"))
    assert "credit_code" in exc.value.errors


def test_edit_asks_only_when_name_or_phone_changes(world, make_customer):
    make_customer(owner=world["other"], name="上海华东西装有限公司")
    mine = make_customer(owner=world["rep"], name="华东西装（上海）有限公司")
    update_customer(world["rep"], mine, form(name="华东西装（上海）有限公司", city="上海"))  # untouched name: fine
    other = make_customer(owner=world["rep"], name="北京燕莎商贸有限公司")
    with pytest.raises(ValidationError) as exc:
        update_customer(world["rep"], other, form(name="上海华东西装有限责任公司"))
    assert "duplicate_reason" in exc.value.errors
    update_customer(world["rep"], other, form(name="上海华东西装有限责任公司", duplicate_reason="改名后的新公司"))
    row = AuditEvent.select().where((AuditEvent.customer == other.id) & (AuditEvent.kind == "customer.updated")).get()
    assert row.data["duplicate_reason"] == "改名后的新公司"


# ---- over the web ---------------------------------------------------------------------------------

def test_form_flow_refused_without_reason_then_saved(client, world, make_customer):
    c = make_customer(owner=world["other"], name="上海华东西装有限公司", phone="13800138000")
    client.login(world["rep"])
    r = client.post("/customers/new", data=form(name="上海华东西装有限责任公司"), htmx=True)
    assert r.status_code == 200
    html = body(r)
    assert 'id="duplicate-matches"' in html and 'name="duplicate_reason"' in html
    assert "Similar customers already exist" in html and "上海华东西装有限公司" in html
    assert "Owned by 李娜" in html
    assert Customer.select().where(Customer.name == "上海华东西装有限责任公司").count() == 0
    r = client.post("/customers/new", data=form(name="上海华东西装有限责任公司", duplicate_reason="同名不同厂"))
    assert r.status_code == 303
    new = Customer.get(Customer.name == "上海华东西装有限责任公司")
    row = AuditEvent.get((AuditEvent.customer == new.id) & (AuditEvent.kind == "customer.created"))
    assert row.data["duplicate_reason"] == "同名不同厂" and row.data["duplicate_ids"] == [c.id]


def test_form_has_the_inline_region(client, world):
    client.login(world["rep"])
    html = body(client.get("/customers/new"))
    assert 'id="duplicate-matches"' in html and 'hx-post="/customers/duplicates"' in html
    assert "from:#name" in html and "from:#phone" in html and "from:#credit_code" in html
    assert 'hx-post="/customers/check/name"' in html  # the per-field check stays


def test_endpoint_masks_what_the_user_may_not_see(client, world, make_customer):
    c = make_customer(owner=world["other"], name="上海华东西装有限公司", phone="13800138000")
    save_contact(world["admin"], c, {"name": "张秘密", "mobile": "13912345678", "email": "boss@example.com"})
    client.login(world["rep"])
    r = client.post("/customers/duplicates", data={"name": "华东西装（上海）", "phone": "139 1234 5678",
                                                   "credit_code": ""}, htmx=True)
    assert r.status_code == 200
    html = body(r)
    assert "上海华东西装有限公司" in html and "Owned by 李娜" in html and "Same phone" in html
    assert f"/customers/{c.id}" not in html  # no link: the rep may not open it
    for secret in ("13800138000", "13912345678", "张秘密", "boss@example.com"):
        assert secret not in html


def test_endpoint_links_what_the_user_may_see_and_names_the_pool(client, world, make_customer):
    c = make_customer(name="上海华东西装有限公司", phone="13800138000")
    Customer.update(pool=world["pool"].id).where(Customer.id == c.id).execute()
    world["rep"].language = "zh_CN"
    world["rep"].save()
    client.login(world["rep"])
    html = body(client.post("/customers/duplicates", data={"name": "上海华东西装有限公司"}, htmx=True))
    assert f'href="/customers/{c.id}"' in html
    assert "在华东公海中" in html and "名称相同" in html
    assert "13800138000" not in html


def test_endpoint_empty_without_matches_and_for_edit_excludes_self(client, world, make_customer):
    mine = make_customer(owner=world["rep"], name="上海华东西装有限公司")
    client.login(world["rep"])
    html = body(client.post("/customers/duplicates", data={"name": "上海华东西装有限公司", "customer_id": str(mine.id)},
                            htmx=True))
    assert "duplicate-warning" not in html
    # editing someone else's customer through the endpoint: 404, like the form
    theirs = make_customer(owner=world["other"], name="北京燕莎商贸有限公司")
    assert client.post("/customers/duplicates", data={"name": "x", "customer_id": str(theirs.id)},
                       htmx=True).status_code == 404


def test_endpoint_refuses_who_may_not_create(client, make_user, make_customer):
    make_customer(name="上海华东西装有限公司")
    client.login(make_user("service"))
    assert client.post("/customers/duplicates", data={"name": "上海华东西装有限公司"}, htmx=True).status_code == 404


def test_migration_backfills_name_norm(tmp_path):
    """0004 fills name_norm for rows that existed before it."""
    import models
    from playhouse.migrations import Runner

    models.close_db()
    models.init_db(f"sqlite:///{tmp_path / 'm.db'}")
    models.db.connect()
    try:
        Runner(models.db.obj, directory=str(models.base.MIGRATIONS)).up(target="0003_pools")
        db.execute_sql("INSERT INTO customer (name, short_name, city, address, phone, phone_norm, website, size, "
                       "business_model, source, first_channel, tags, custom, stage, grade, completeness, created_at, "
                       "updated_at, stage_changed_at, touched_at, release_rule, locked) VALUES ('华东西装（上海）有限公司', '', '', '', '', '', "
                       "'', '', 'consumer', 'website', '', '', '{}', 'target', '', 0, '2026-01-01', '2026-01-01', "
                       "'2026-01-01', '2026-01-01', '', 0)")
        models.migrate()
        assert db.execute_sql("SELECT name_norm FROM customer").fetchone() == ("华东西装",)
    finally:
        models.close_db()
