"""The demo data set: 223 people in 20 teams and about 20,000 customers with two years of history.

`load_once()` loads it in one transaction marked by a `demo.loaded` audit row. The generators here
(people, company names, credit codes, phones, customer histories) also build the large databases
of benchmarks/generate.py, so both describe the same company.
"""
import bisect
import datetime as dt
import importlib.util
import itertools
import random
import time
from collections import namedtuple
from types import SimpleNamespace

from models import clock, db, pools, rules, search
from models import sql as sql_engine
from seeds import demo_history, demo_scenes
from models.audit import AuditEvent
from models.duplicates import normalize_name
from models.customers import (GRADE_OF_STAGE, STAGES, Contact, Customer, CustomerGroup, FollowUp, Industry,
                              StageChange, compute_completeness)
from models.fields import credit_code_check_char, normalize_phone
from models.pools import Pool, PoolEvent
from models.users import Region, Team, User, hash_password

PASSWORD = "kehu2026!"
SEED = 2026
DEMO_CUSTOMERS = 20_000
DEMO_LEADS = 2_000
MARKER = "demo.loaded"

# ---- vocabulary -------------------------------------------------------------------------------


class Random(random.Random):
    """random.Random with choice and randrange drawn from random(): about three times faster, which
    matters for a million customers, and uniform enough for made-up data."""

    def choice(self, seq):
        return seq[int(self.random() * len(seq))]

    def randrange(self, start, stop=None):
        if stop is None:
            start, stop = 0, start
        return start + int(self.random() * (stop - start))


class Choice:
    """A weighted choice that is cheap to draw from many times."""

    def __init__(self, weighted):
        self.items = [item for item, _ in weighted]
        self.cum = list(itertools.accumulate(w for _, w in weighted))

    def __call__(self, rng):
        return self.items[bisect.bisect(self.cum, rng.random() * self.cum[-1])]


# (surname, pinyin, weight): the common surnames roughly by frequency
SURNAMES = Choice([(tuple(s.split(":")), int(w)) for s, w in (x.split("/") for x in (
    "王:wang/70 李:li/70 张:zhang/66 刘:liu/54 陈:chen/45 杨:yang/30 黄:huang/24 赵:zhao/22 吴:wu/20 "
    "周:zhou/20 徐:xu/16 孙:sun/15 马:ma/14 朱:zhu/13 胡:hu/12 郭:guo/12 何:he/11 高:gao/10 林:lin/10 "
    "罗:luo/10 郑:zheng/9 梁:liang/9 谢:xie/8 宋:song/7 唐:tang/7 许:xu/6 韩:han/6 冯:feng/6 邓:deng/6 "
    "曹:cao/6 彭:peng/5 曾:zeng/5 肖:xiao/5 田:tian/5 董:dong/5 袁:yuan/4 潘:pan/4 于:yu/4 蒋:jiang/4 "
    "蔡:cai/4 余:yu/4 杜:du/4 叶:ye/4 程:cheng/4 苏:su/3 魏:wei/3 吕:lv/3 丁:ding/3 任:ren/3 沈:shen/3 "
    "姚:yao/3 卢:lu/3 姜:jiang/3 崔:cui/3 钟:zhong/3 谭:tan/3 陆:lu/3 汪:wang/3 范:fan/3 金:jin/3 石:shi/3 "
    "廖:liao/2 贾:jia/2 夏:xia/2 韦:wei/2 方:fang/2 白:bai/2 邹:zou/2 孟:meng/2 熊:xiong/2 秦:qin/2 "
    "邱:qiu/2 江:jiang/2 尹:yin/2 薛:xue/2 段:duan/2 雷:lei/2 侯:hou/2 龙:long/2 史:shi/2 陶:tao/2 "
    "黎:li/2 贺:he/2 顾:gu/2 毛:mao/2 郝:hao/2 龚:gong/2 邵:shao/2 万:wan/2 钱:qian/2 严:yan/2 武:wu/2 "
    "戴:dai/2 莫:mo/1 孔:kong/1 向:xiang/1 汤:tang/1 欧阳:ouyang/1 上官:shangguan/1").split())])
GIVEN = ("伟 芳 娜 敏 静 丽 强 磊 军 洋 勇 艳 杰 娟 涛 明 超 霞 平 刚 桂 英 华 建 志 晓 东 海 燕 红 波 鹏 辉 玲 "
         "婷 雪 宇 浩 凯 健 俊 帆 琳 欣 颖 佳 文 斌 峰 斐 宁 瑶 倩 晨 阳 亮 飞 莉 萍 鑫 博 睿 子 梓 思 雨 "
         "嘉 怡 然 泽 昊 天 一 诗 涵 欢 悦 蕾 岚 翔 毅 坤 琦 慧 兰 凤 梅 秀 国 庆 春 秋 卫 雯 婧").split()

# Brand words: two syllables, each with its pinyin (for web sites and e-mail domains).
BRAND_FIRST = [tuple(x.split(":")) for x in (
    "华:hua 恒:heng 金:jin 鸿:hong 锦:jin 瑞:rui 嘉:jia 盛:sheng 泰:tai 祥:xiang 富:fu 宏:hong 永:yong "
    "信:xin 美:mei 雅:ya 新:xin 东:dong 联:lian 海:hai 天:tian 中:zhong 佳:jia 凯:kai 欣:xin 隆:long 兴:xing "
    "诚:cheng 德:de 鑫:xin 康:kang 宝:bao 豪:hao 尚:shang 卓:zhuo 奥:ao 雪:xue 云:yun 蓝:lan 森:sen 星:xing "
    "帆:fan 荣:rong 博:bo 伊:yi 罗:luo 杉:shan 骏:jun 悦:yue").split()]
BRAND_SECOND = [tuple(x.split(":")) for x in (
    "达:da 源:yuan 盛:sheng 泰:tai 丰:feng 利:li 发:fa 茂:mao 成:cheng 升:sheng 通:tong 辉:hui 业:ye "
    "昌:chang 邦:bang 彩:cai 绣:xiu 伟:wei 亿:yi 晟:sheng 越:yue 铭:ming 朗:lang 创:chuang 裳:shang 锐:rui "
    "格:ge 派:pai 诺:nuo 威:wei 航:hang 峰:feng 琪:qi 依:yi 纳:na 尔:er 菲:fei 娜:na 杰:jie 顺:shun "
    "禾:he 韵:yun 宸:chen 迪:di 纶:lun 绮:qi 织:zhi 衣:yi 麟:lin 凯:kai").split()]

# What the company calls itself after the brand, per industry code (from seeds/reference.py).
NAME_CORES = {
    "suits": ("西服", "西装", "服饰", "制衣", "时装"),
    "jeans": ("牛仔服饰", "牛仔制衣", "服装", "牛仔"),
    "shirts": ("衬衫", "衬衣", "服饰", "制衣"),
    "knitwear": ("针织", "针织服饰", "毛衫", "羊绒制品"),
    "sportswear": ("运动服饰", "体育用品", "运动用品"),
    "outerwear": ("服装", "时装", "服饰", "羽绒服饰"),
    "childrens": ("童装", "儿童服饰", "童装服饰"),
    "uniforms": ("职业装", "制服", "工装", "服装"),
    "fabrics": ("纺织", "纺织科技", "面料", "印染"),
    "accessories": ("服饰辅料", "服饰配件", "纽扣", "拉链"),
}
INDUSTRY_WEIGHTS = {"suits": 16, "jeans": 12, "shirts": 14, "knitwear": 10, "sportswear": 8, "outerwear": 9,
                    "childrens": 8, "uniforms": 9, "fabrics": 9, "accessories": 5}
COMPANY_FORMS = Choice([("有限公司", 70), ("有限责任公司", 12), ("股份有限公司", 8), ("实业有限公司", 6),
                        ("集团有限公司", 2), ("厂", 2)])
WEB_SUFFIXES = Choice([(".com", 50), (".cn", 20), (".com.cn", 25), (".net", 5)])

# region code -> (city, area code, weight, ((district, administrative division code), ...))
CITIES = {
    "east": (
        ("上海", "021", 9, (("浦东新区", "310115"), ("闵行区", "310112"), ("徐汇区", "310104"), ("松江区", "310117"))),
        ("杭州", "0571", 6, (("西湖区", "330106"), ("萧山区", "330109"), ("余杭区", "330110"))),
        ("宁波", "0574", 5, (("鄞州区", "330212"), ("海曙区", "330203"))),
        ("苏州", "0512", 6, (("吴中区", "320506"), ("姑苏区", "320508"), ("常熟市", "320581"))),
        ("南京", "025", 4, (("鼓楼区", "320106"), ("江宁区", "320115"))),
        ("温州", "0577", 4, (("鹿城区", "330302"), ("瓯海区", "330304"))),
        ("绍兴", "0575", 4, (("柯桥区", "330603"), ("越城区", "330602"))),
        ("厦门", "0592", 3, (("思明区", "350203"), ("湖里区", "350206"))),
        ("泉州", "0595", 4, (("晋江市", "350582"), ("石狮市", "350581"))),
        ("福州", "0591", 2, (("鼓楼区", "350102"), ("仓山区", "350104"))),
        ("青岛", "0532", 3, (("市南区", "370202"), ("即墨区", "370215"))),
        ("济南", "0531", 2, (("历下区", "370102"), ("槐荫区", "370104"))),
        ("合肥", "0551", 2, (("蜀山区", "340104"), ("包河区", "340111"))),
        ("南昌", "0791", 2, (("红谷滩区", "360113"), ("青山湖区", "360111"))),
    ),
    "north": (
        ("北京", "010", 8, (("朝阳区", "110105"), ("海淀区", "110108"), ("丰台区", "110106"), ("大兴区", "110115"))),
        ("天津", "022", 5, (("和平区", "120101"), ("河西区", "120103"), ("滨海新区", "120116"))),
        ("石家庄", "0311", 3, (("长安区", "130102"), ("桥西区", "130104"))),
        ("保定", "0312", 2, (("竞秀区", "130602"), ("莲池区", "130606"))),
        ("太原", "0351", 2, (("小店区", "140105"), ("迎泽区", "140106"))),
        ("呼和浩特", "0471", 1, (("赛罕区", "150105"), ("新城区", "150102"))),
    ),
    "south": (
        ("广州", "020", 8, (("天河区", "440106"), ("越秀区", "440104"), ("白云区", "440111"), ("番禺区", "440113"))),
        ("深圳", "0755", 7, (("福田区", "440304"), ("南山区", "440305"), ("宝安区", "440306"), ("龙岗区", "440307"))),
        ("东莞", "0769", 5, (("虎门镇", "441900"), ("常平镇", "441900"), ("大朗镇", "441900"))),
        ("佛山", "0757", 4, (("南海区", "440605"), ("顺德区", "440606"))),
        ("中山", "0760", 3, (("沙溪镇", "442000"), ("小榄镇", "442000"))),
        ("汕头", "0754", 2, (("潮南区", "440514"), ("龙湖区", "440507"))),
        ("南宁", "0771", 2, (("青秀区", "450103"), ("西乡塘区", "450107"))),
        ("海口", "0898", 1, (("龙华区", "460106"), ("美兰区", "460108"))),
    ),
    "southwest": (
        ("成都", "028", 8, (("武侯区", "510107"), ("锦江区", "510104"), ("成华区", "510108"), ("双流区", "510116"))),
        ("重庆", "023", 7, (("渝中区", "500103"), ("江北区", "500105"), ("九龙坡区", "500107"))),
        ("昆明", "0871", 3, (("五华区", "530102"), ("盘龙区", "530103"))),
        ("贵阳", "0851", 2, (("南明区", "520102"), ("云岩区", "520103"))),
        ("绵阳", "0816", 1, (("涪城区", "510703"), ("游仙区", "510704"))),
    ),
    "central": (
        ("武汉", "027", 8, (("江汉区", "420103"), ("武昌区", "420106"), ("汉阳区", "420105"), ("洪山区", "420111"))),
        ("长沙", "0731", 6, (("岳麓区", "430104"), ("芙蓉区", "430102"), ("天心区", "430103"))),
        ("郑州", "0371", 6, (("金水区", "410105"), ("二七区", "410103"), ("中原区", "410102"))),
        ("宜昌", "0717", 1, (("西陵区", "420502"), ("伍家岗区", "420503"))),
        ("洛阳", "0379", 2, (("西工区", "410303"), ("涧西区", "410305"))),
        ("株洲", "0731", 1, (("芦淞区", "430203"), ("天元区", "430211"))),
    ),
    "northeast": (
        ("沈阳", "024", 6, (("和平区", "210102"), ("沈河区", "210103"), ("铁西区", "210106"))),
        ("大连", "0411", 5, (("中山区", "210202"), ("甘井子区", "210211"))),
        ("哈尔滨", "0451", 4, (("南岗区", "230103"), ("道里区", "230102"))),
        ("长春", "0431", 3, (("朝阳区", "220104"), ("南关区", "220102"))),
        ("鞍山", "0412", 1, (("铁东区", "210302"), ("铁西区", "210303"))),
    ),
}
REGION_WEIGHTS = {"east": 34, "north": 16, "south": 22, "southwest": 11, "central": 10, "northeast": 7}
STREETS = ("人民路 解放路 中山路 建设路 长江路 黄河路 新华路 胜利路 和平路 青年路 工业大道 科技路 创业路 金桥路 "
           "滨江大道 环城北路 迎宾大道 光明路 兴业路 纺织路 服装城路 湖滨路 东风路 朝阳路 江南大道 开发区大道 "
           "高新大道 凤凰路 锦绣路 振兴路").split()
MOBILE_PREFIXES = ("130 131 132 133 135 136 137 138 139 150 151 152 153 155 156 157 158 159 166 "
                   "173 175 176 177 180 181 182 183 185 186 187 188 189 191 198 199").split()

TEAMS = (("east", "华东", 5), ("north", "华北", 4), ("south", "华南", 4), ("southwest", "西南", 3),
         ("central", "华中", 2), ("northeast", "东北", 2))
NUMERALS = "一二三四五六七八九十"
REPS_PER_TEAM = 10
GROUPS = 40

# (title, decision role, department, weight for the second and later contacts)
TITLES = (
    ("总经理", "decision_maker", "总经办", 4), ("董事长", "decision_maker", "董事会", 2),
    ("副总经理", "decision_maker", "总经办", 4), ("采购经理", "buyer", "采购部", 10),
    ("采购主管", "buyer", "采购部", 8), ("采购专员", "buyer", "采购部", 6), ("财务总监", "influencer", "财务部", 6),
    ("财务经理", "influencer", "财务部", 5), ("生产经理", "user", "生产部", 6), ("技术总监", "influencer", "技术部", 4),
    ("设计总监", "influencer", "设计部", 4), ("行政主管", "consumer", "行政部", 4), ("人事经理", "consumer", "人力资源部", 3),
    ("品控经理", "user", "品质部", 4), ("店长", "user", "零售部", 3), ("业务跟单", "", "业务部", 3),
)
FIRST_TITLE = Choice([(t, w) for t, w in zip(TITLES[:6], (30, 12, 10, 25, 15, 8))])
OTHER_TITLE = Choice([(t, t[3]) for t in TITLES])
CONTACT_COUNT = Choice([(1, 35), (2, 35), (3, 20), (4, 10)])

TAGS = ("重点客户 老客户 展会客户 定制 外贸 电商 OEM 团购 校服 工装 高端 快反 连锁门店 年度框架").split()
SIZES = Choice([("micro", 18), ("small", 34), ("medium", 28), ("large", 12), ("xlarge", 8), ("", 6)])
BUSINESS_MODELS = Choice([("consumer", 45), ("industrial", 25), ("project", 15), ("key_account", 15)])
MARKETING_SOURCES = Choice([("media", 15), ("website", 30), ("event", 25), ("inbound_call", 15), ("import", 15)])
REP_SOURCES = Choice([("rep_developed", 70), ("referral", 30)])
CHANNELS = Choice([("phone", 40), ("visit", 20), ("email", 12), ("sms", 5), ("fax", 3), ("media", 5), ("", 15)])

# ---- follow-up wording ------------------------------------------------------------------------

REP_TYPES = Choice([("visit", 25), ("call", 35), ("wechat", 15), ("meeting", 8), ("email", 10), ("sms", 4),
                    ("other", 3)])
VALID_TYPES = Choice([("visit", 35), ("call", 45), ("meeting", 10), ("email", 10)])
MARKETING_TYPES = Choice([("call", 50), ("email", 25), ("sms", 10), ("wechat", 15)])
OPENERS = {
    "visit": ("上门拜访{who}，", "到客户工厂拜访{who}，参观了裁剪和缝制车间，", "陪同销售经理拜访{who}，",
              "到客户门店拜访{who}，"),
    "call": ("电话联系{who}，", "与{who}通话约{min}分钟，", "给{who}打电话回访，"),
    "meeting": ("与{who}及其团队开会，", "在我司展厅接待{who}一行，", "参加客户组织的供应商沟通会，{who}出席，"),
    "email": ("邮件发送报价单和产品目录给{who}，", "收到{who}的邮件回复，", "把修改后的合同草稿发邮件给{who}，"),
    "sms": ("短信提醒{who}确认样衣尺码，", "短信通知{who}货物已发出，"),
    "wechat": ("微信与{who}沟通，", "{who}在微信上询问{product}的情况，", "通过微信把新款图片发给{who}，"),
    "other": ("在{city}服装博览会上遇到{who}，", "在行业协会活动上与{who}交流，"),
}
NOBODY_IN_PARTICULAR = ("对方采购负责人", "客户前台", "对方老板")
PRODUCTS = ("精纺羊毛西装面料 商务衬衫 免烫衬衫 弹力牛仔面料 职业套装 校服 工作服 针织T恤 羽绒服 童装套装 "
            "定制西服 纽扣辅料 冲锋衣 Polo衫 西裤 夹克 卫衣 真丝面料").split()
TOPICS = (
    "介绍了我司今年秋冬季的{product}系列",
    "了解客户明年春夏季的采购计划，预计需求约{qty}件",
    "客户反馈上批{product}有色差，已协调工厂处理",
    "讨论了{product}的报价，客户希望单价再降{pct}%",
    "确认了{product}样衣的尺码和版型，客户基本满意",
    "对方采购流程需要三家比价，我们已进入短名单",
    "客户对交期比较敏感，要求{days}天内交货",
    "客户今年新开了{n}家门店，{product}有追加订单的可能",
    "对方财务确认上月货款将于本周安排支付",
    "客户计划更换{product}供应商，对我们的品质和服务有兴趣",
    "沟通了员工{product}的团购方案，约{qty}套",
    "客户对我们的打样速度很认可，准备下{product}试单",
    "客户提出要看工厂的质量体系认证和环保检测报告",
    "对方正在做年度供应商评估，{product}是重点品类",
)
DETAILS = (
    "对方表示需要和老板商量后再定", "约定下周二再电话确认", "样品已寄出，快递单号已发微信",
    "需要我们提供质检报告和营业执照复印件", "客户希望先小批量试单", "竞争对手报价比我们低约{pct}%",
    "对方决策人下周出差回来再议", "已把会议纪要发给对方确认", "客户要求月结{days}天",
    "需要设计部配合出三套方案", "对方对面料手感很满意", "下次拜访带上新一季的面料样卡",
)
OUTCOMES = ("客户有兴趣，需内部评估", "已报价，等待回复", "样品已确认", "客户要求调整价格", "达成试单意向",
            "暂无采购计划", "合同审批中", "货款已到账", "需要再次拜访", "客户满意，有复购意向", "进入供应商短名单",
            "对方在比价中")
NEXT_STEPS = ("寄送面料样卡", "提交正式报价单", "安排客户参观工厂", "上门量体", "跟进合同审批", "回访产品使用情况",
              "邀请参加新品发布会", "确认付款进度", "发送新款产品目录", "约见采购总监", "安排打样", "确认交货时间")

# Stage ladder and who may drive it (models/customers.py STAGES, marketing up to target).
TARGET = STAGES.index("target")
OWNED_STAGES = Choice([("target", 35), ("intent", 30), ("signed", 17), ("long_term", 18)])
DEALT_STAGES = ("signed", "long_term")
OWNED_DUE = Choice([("overdue", 12), ("today", 8), ("upcoming", 55), ("none", 25)])
RELEASE_REASONS = ("业务员调岗，客户转入公海", "长期未有效跟进，退回公海", "客户暂停采购，释放到公海")
ROUTING_REASON = "市场部线索分配"
# Share of customers whose credit code is known, by stage (leads often arrive without one).
CREDIT_CODE_KNOWN = {"unidentified": 0.6, "prospect": 0.85}

Member = namedtuple("Member", "id username full_name role team_id region_id")
# One customer to build: created `age` days ago; `holder` owns it now, or owned it until it was
# released to the pool; `origin` says who created it (a rep or marketing); `due` shapes the owner's
# next follow-up date (overdue / today / upcoming / none), None for a random one.
Plan = namedtuple("Plan", "age holder released stage origin followups due")


# ---- small generators (benchmarks/generate.py uses them too) ----------------------------------

def person(rng):
    """(surname, its pinyin, full name), e.g. ('张', 'zhang', '张晓东')."""
    surname, pinyin = SURNAMES(rng)
    given = rng.choice(GIVEN) if rng.random() < 0.35 else rng.choice(GIVEN) + rng.choice(GIVEN)
    return surname, pinyin, surname + given


# Brand words the staged scenes use for their own companies (seeds/demo_conflicts.py): a generated file
# must never take one, or a scene's new file would meet a look-alike it did not plan (and the load fails).
SCENE_BRANDS = {"锦绣"}


def brand(rng):
    """A two-character brand word and its pinyin, e.g. ('恒源', 'hengyuan')."""
    first = rng.choice(BRAND_FIRST)
    second = rng.choice(BRAND_SECOND)
    while second[0] == first[0] or first[0] + second[0] in SCENE_BRANDS:
        second = rng.choice(BRAND_SECOND)
    return first[0] + second[0], first[1] + second[1]


def company_name(rng, city, industry_code):
    """A registered name and short name, e.g. ('宁波恒源西服有限公司', '恒源西服'), and the brand's pinyin."""
    word, pinyin = brand(rng)
    core = rng.choice(NAME_CORES[industry_code])
    form = COMPANY_FORMS(rng)
    if form == "厂":
        core = "制衣" if core.endswith("服饰") or len(core) > 2 else core
    return f"{city}{word}{core}{form}", f"{word}{core[:2]}", pinyin


def _org_code_check(body):
    """GB 11714 check character of an 8-digit organisation code body."""
    c = 11 - sum(int(d) * w for d, w in zip(body, (3, 7, 9, 10, 5, 8, 4, 2))) % 11
    return "X" if c == 10 else "0" if c == 11 else str(c)


def credit_code(seq, division):
    """The `seq`-th unified social credit code (GB 32100): unique per seq below 10^8, any division.

    91 (registered by market regulation, an enterprise) + 6-digit division + organisation code
    (8 digits scrambled from seq, its own GB 11714 check) + the GB 32100 check character.
    """
    body = f"{(seq * 7_919_731 + 12_345_678) % 100_000_000:08d}"
    first17 = f"91{division}{body}{_org_code_check(body)}"
    return first17 + credit_code_check_char(first17)


def mobile(rng):
    return rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(100_000_000):08d}"


def landline(rng, area_code):
    """An office number as people write it, e.g. 021-62345678 (8 digits, not starting with 0 or 1)."""
    return f"{area_code}-{rng.randrange(2, 9)}{rng.randrange(10_000_000):07d}"


def address(rng, city, district):
    street = f"{city}市{district}{rng.choice(STREETS)}{rng.randrange(1, 1999)}号"
    r = rng.random()
    if r < 0.3:
        return street + f"{rng.randrange(1, 12)}栋{rng.randrange(2, 24)}楼"
    if r < 0.5:
        return street + f"{rng.choice(('纺织', '服装', '科技', '创业'))}园{rng.randrange(1, 30)}号厂房"
    return street


# ---- people -----------------------------------------------------------------------------------

def team_names():
    """The 20 teams in order, as (region code, name): 华东一组 … 东北二组."""
    return [(code, f"{zh}{NUMERALS[i]}组") for code, zh, n in TEAMS for i in range(n)]


def create_people(rng, now, password=PASSWORD):
    """Insert the teams, their managers and reps, and the admin, marketing and service users.

    The password is hashed once (scrypt is slow) and shared. Returns the people as Members.
    """
    password_hash = hash_password(password)
    regions = {r.code: r.id for r in Region.select()}
    names = set()

    def unique_name():
        name = person(rng)[2]
        while name in names:
            name = person(rng)[2]
        names.add(name)
        return name

    joined = now - dt.timedelta(days=800)
    people = SimpleNamespace(managers=[], reps=[])

    def add(username, role, team_id=None, region_id=None):
        user = User.create(username=username, full_name=unique_name(), email=f"{username}@example.com",
                           password_hash=password_hash, role=role, team=team_id, region=region_id,
                           created_at=joined)
        return Member(user.id, username, user.full_name, role, team_id, region_id)

    people.admin = add("admin", "admin")
    people.marketing = add("marketing", "marketing")
    people.service = add("service", "service")
    for number, (region_code, team_name) in enumerate(team_names(), start=1):
        team = Team.create(name=team_name, region=regions[region_code])
        manager = add(f"manager{number:02d}", "manager", team.id, team.region_id)
        Team.update(manager=manager.id).where(Team.id == team.id).execute()
        people.managers.append(manager)
        for k in range(REPS_PER_TEAM):
            people.reps.append(add(f"rep{(number - 1) * REPS_PER_TEAM + k + 1:03d}", "sales", team.id,
                                   team.region_id))
    return people


def create_groups(rng):
    """Customer groups (集团) for key accounts; returns their ids."""
    names = set()
    while len(names) < GROUPS:
        names.add(brand(rng)[0] + rng.choice(("集团", "控股集团", "实业集团")))
    CustomerGroup.insert_many([{"name": n} for n in sorted(names)]).execute()
    return [g.id for g in CustomerGroup.select(CustomerGroup.id).where(CustomerGroup.name.in_(sorted(names)))]


# ---- bulk rows --------------------------------------------------------------------------------

COLUMNS = {
    Customer: ("id", "name", "name_norm", "short_name", "credit_code", "industry_id", "region_id", "city", "address", "phone",
               "phone_norm", "website", "size", "business_model", "source", "first_channel", "tags",
               "group_id", "owner_id", "team_id", "stage", "grade", "completeness", "created_at", "created_by_id",
               "updated_at", "stage_changed_at", "last_followup_at", "touched_at", "next_followup_on", "claimed_at",
               "last_valid_followup_at", "pool_id", "released_at", "released_from", "released_team"),
    Contact: ("id", "customer_id", "name", "title", "department", "mobile", "phone", "phone_norm", "mobile_norm",
              "email", "wechat", "decision_role", "reports_to_id", "active", "created_at"),
    FollowUp: ("id", "customer_id", "author_id", "type", "at", "contact_id", "content", "outcome", "next_step",
               "next_date", "created_at", "is_valid", "invalid_reasons"),
    StageChange: ("id", "customer_id", "from_stage", "to_stage", "at", "actor_id"),
    AuditEvent: ("id", "at", "actor_id", "customer_id", "kind", "data"),
    PoolEvent: ("id", "at", "kind", "actor_id", "customer_id", "from_owner", "to_pool", "rule_version", "reason"),
}


def _column_defaults(model):
    """(column, value) for the model's columns that COLUMNS leaves out and that have a default."""
    out = []
    for field in model._meta.sorted_fields:
        if field.column_name not in COLUMNS[model] and field.default is not None:
            value = field.default() if callable(field.default) else field.default
            out.append((field.column_name, field.db_value(value)))
    return out


def insert_rows(model, rows):
    """Write one table's rows (tuples in COLUMNS order, values already in database form) in one bulk
    statement (executemany on SQLite, COPY on PostgreSQL); columns added to the model since get their defaults."""
    if rows:
        defaults = _column_defaults(model)
        columns = COLUMNS[model] + tuple(c for c, _ in defaults)
        if defaults:
            extra = tuple(v for _, v in defaults)
            rows = [row + extra for row in rows]
        sql_engine.insert_many(model._meta.table_name, columns, rows)
        sql_engine.sync_sequence(model)


def _ignore(*args, **kwargs):
    """The audit sink for customers built without audit rows."""


def _ts(value):
    return None if value is None else value.isoformat(sep=" ")


class CustomerBuilder:
    """Turns Plans into rows: customers with contacts, follow-ups, stage history and audit trail.

    Ids are assigned here (from the tables' current maximum) so that rows can refer to each other
    in one bulk insert; within a customer they follow time, as the verbs would have written them.
    Audit rows are written for customers where `audit(plan)` is true.
    """

    def __init__(self, rng, people, groups, now, audit=lambda plan: True):
        self.rng, self.people, self.groups, self.now, self.audit = rng, people, groups, now, audit
        self.today = clock.today()
        self.utc_offset = clock.to_local(now).utcoffset()
        self.credit_seq = 0
        self.regions = {r.code: r.id for r in Region.select()}
        self.region_choice = Choice([(code, w) for code, w in REGION_WEIGHTS.items()])
        self.cities = {self.regions[code]: Choice([(c, c[2]) for c in cities]) for code, cities in CITIES.items()}
        industries = {i.code: i.id for i in Industry.select()}
        self.industry = Choice([((industries[code], code), w) for code, w in INDUSTRY_WEIGHTS.items()
                                if code in industries])
        self.rules = rules.in_force(now)
        self.region_pools = {p.region_id: p for p in Pool.select().where(Pool.active == True)}  # noqa: E712
        self.ids = {model: (model.select(model.id).order_by(model.id.desc()).scalar() or 0) + 1
                    for model in COLUMNS}
        self.rows = {model: [] for model in COLUMNS}
        self.audit_seq = 0
        self._completeness, self._validity = {}, {}

    # -- time helpers
    def _business_moment(self, day):
        """A random moment in working hours (09:00–18:30 business time) of `day`, as naive UTC;
        the day before if that would be in the future."""
        local = dt.datetime.combine(day, dt.time(9)) + dt.timedelta(seconds=self.rng.randrange(34_200))
        moment = local - self.utc_offset
        return moment if moment < self.now else moment - dt.timedelta(days=1)

    def _between(self, start, end, fraction=1.0):
        """A random moment in working hours between `start` and `start + fraction × (end - start)`
        (anywhere in between if no working hours fit)."""
        seconds = max(0, int((end - start).total_seconds() * fraction))
        moment = start + dt.timedelta(seconds=self.rng.randrange(seconds + 1))
        local = moment + self.utc_offset
        if local.hour < 9 or local.hour >= 18:
            snapped = self._business_moment(local.date())
            if start <= snapped <= start + dt.timedelta(seconds=seconds):
                return snapped
        return moment

    def _local_day(self, moment):
        return (moment + self.utc_offset).date()

    # -- the pieces
    def _next_id(self, model):
        value = self.ids[model]
        self.ids[model] = value + 1
        return value

    def _event(self, when, actor, customer_id, kind, **data):
        self.audit_seq += 1
        self.rows[AuditEvent].append((when, self.audit_seq, actor, customer_id, kind, data))

    def _stage_path(self, origin, stage):
        rng, final = self.rng, STAGES.index(stage)
        start = 0 if origin == "marketing" else TARGET
        if final <= start:
            return [STAGES[start]] if final == start else [STAGES[start], stage]
        path = [STAGES[i] for i in range(start, final + 1)]
        if origin == "marketing" and final >= TARGET and rng.random() < 0.3:
            path.remove("prospect")  # qualified straight to target
        if final > TARGET and rng.random() < 0.15:
            # a setback: demoted one step and promoted again later
            k = rng.randrange(path.index("target") + 1, len(path))
            path[k + 1:k + 1] = [path[k - 1], path[k]]
        return path

    def _last_followup_day(self, due):
        """(day of the owner's latest follow-up, its next date) for a due-date hint."""
        rng, today = self.rng, self.today
        if due == "today":
            return today - dt.timedelta(days=rng.randrange(1, 8)), today
        if due == "overdue":
            next_date = today - dt.timedelta(days=rng.randrange(1, 7))
            return next_date - dt.timedelta(days=rng.randrange(1, 8)), next_date
        # within the 15 days of the no-follow-up release rule; the oldest are close to it
        last = today - dt.timedelta(days=rng.choice((0, 0, 1, 1, 2, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14)))
        if due == "upcoming":
            return last, today + dt.timedelta(days=rng.randrange(1, 15))
        return last, None

    def _content(self, ftype, who, city):
        rng = self.rng
        r = rng.randrange(1000)
        slots = {"who": who, "city": city, "product": rng.choice(PRODUCTS), "qty": (r % 40 + 5) * 100,
                 "pct": r % 8 + 2, "days": r % 4 * 15 + 15, "n": r % 9 + 2, "min": r % 25 + 5}
        return (rng.choice(OPENERS[ftype]) + rng.choice(TOPICS) + "，" + rng.choice(DETAILS) + "。").format(**slots)

    def _completeness_of(self, values, contacts):
        """models.customers.compute_completeness, memoised on what it looks at: which fields are
        filled, and whether there are contacts, a decision maker, a buyer, and their phones."""
        key = (values["business_model"], tuple(bool(v) for v in values.values()), frozenset(
            (c.decision_role if c.decision_role in ("decision_maker", "buyer") else "", bool(c.mobile or c.phone))
            for c in contacts))
        score = self._completeness.get(key)
        if score is None:
            score = self._completeness[key] = compute_completeness(Customer(**values), contacts)
        return score

    def _validity_of(self, ftype, business_model, contact, content, at, logged_at):
        """models.rules.followup_validity under the rules in force, memoised on type, business
        model and the contact's decision role: the generated texts are all long enough and free of
        stock phrases, and every follow-up is logged within hours, so nothing else varies."""
        key = (ftype, business_model, contact.decision_role if contact else None)
        verdict = self._validity.get(key)
        if verdict is None:
            valid, reasons = rules.followup_validity(self.rules, SimpleNamespace(business_model=business_model),
                                                     ftype, content, at, contact, logged_at)
            verdict = self._validity[key] = (valid, FollowUp.invalid_reasons.db_value([[m, p] for m, p in reasons]))
        return verdict

    # -- one customer
    def add(self, plan):
        """Build one customer's rows from its plan."""
        cid = self._next_id(Customer)
        event = self._event if self.audit(plan) else _ignore
        values, area_code, domain = self._profile(plan)
        story = self._story(cid, plan, values["region_id"], event)
        contacts = self._contacts(cid, story, area_code, domain, event)
        last_at, next_on, last_valid_at = self._followups(cid, plan, story, contacts, values, event)
        owner, created, v = story.owner, story.created, values
        self.rows[Customer].append((
            cid, v["name"], normalize_name(v["name"]), v["short_name"], v["credit_code"], v["industry_id"], v["region_id"], v["city"],
            v["address"], v["phone"], normalize_phone(v["phone"]) if v["phone"] else "", v["website"], v["size"],
            v["business_model"], v["source"], v["first_channel"], v["tags"], v["group_id"],
            owner.id if owner else None, owner.team_id if owner else None, plan.stage,
            GRADE_OF_STAGE.get(plan.stage, ""), self._completeness_of(values, [c[3] for c in contacts if c[3].active]),
            _ts(created), story.creator.id, _ts(max([story.updated_at] + [c[1] for c in contacts])),
            _ts(story.stage_changed_at), _ts(last_at), _ts(max(created, last_at or created)),
            next_on and next_on.isoformat(), _ts(story.claimed_at), _ts(last_valid_at), story.pool_id,
            _ts(story.released_at), story.released_from, story.released_team,
        ))

    def _profile(self, plan):
        """The static fields of the file, a company in a city of the holder's region; with the
        city's area code and the company's web domain."""
        rng = self.rng
        region_id = plan.holder.region_id if plan.holder else self.regions[self.region_choice(rng)]
        city, area_code, _, districts = self.cities[region_id](rng)
        district, division = rng.choice(districts)
        industry_id, industry_code = self.industry(rng)
        name, short_name, pinyin = company_name(rng, city, industry_code)
        code = None
        if rng.random() < CREDIT_CODE_KNOWN.get(plan.stage, 1.0):
            code = credit_code(self.credit_seq, division)
            self.credit_seq += 1
        r = rng.random()
        phone = (landline(rng, area_code) if r < 0.72 else mobile(rng) if r < 0.9
                 else f"400-{rng.randrange(100, 999)}-{rng.randrange(1000, 9999)}" if r < 0.95 else "")
        domain = pinyin + rng.choice(("", "", "fs", "fz", "group", "textile")) + WEB_SUFFIXES(rng)
        business_model = BUSINESS_MODELS(rng)
        in_group = rng.random() < (0.25 if business_model == "key_account" else 0.02)
        values = {
            "name": name, "short_name": short_name, "credit_code": code, "industry_id": industry_id,
            "region_id": region_id, "city": city, "address": address(rng, city, district) if rng.random() < 0.9 else "",
            "phone": phone, "website": f"www.{domain}" if rng.random() < 0.45 else "", "size": SIZES(rng),
            "business_model": business_model, "first_channel": CHANNELS(rng),
            "source": (MARKETING_SOURCES if plan.origin == "marketing" else REP_SOURCES)(rng),
            "tags": ",".join(rng.sample(TAGS, rng.choice((0, 0, 0, 1, 1, 2, 3)))),
            "group_id": rng.choice(self.groups) if in_group else None,
        }
        return values, area_code, domain

    def _story(self, cid, plan, region_id, event):
        """Creation, stage history and ownership over time (rows, audit events and the pool ledger);
        returns when things happened and who worked the customer when."""
        rng, now, people = self.rng, self.now, self.people
        holder, marketing = plan.holder, people.marketing
        owner = None if plan.released else holder
        born = now - dt.timedelta(seconds=int(plan.age * 86400))
        created = self._between(born, born + dt.timedelta(hours=12))
        end = now - dt.timedelta(hours=1)
        released_at = None
        if plan.released:
            released_at = end = self._between(created, now - dt.timedelta(days=1))
        # an owner's latest follow-up is recent and shapes the workbench; stages move before it
        last_at = last_next = None
        if plan.followups and owner is not None:
            day, last_next = self._last_followup_day(plan.due or OWNED_DUE(rng))
            last_at = max(self._business_moment(day), created + dt.timedelta(hours=2))
        elif plan.followups:
            last_at = self._between(created, end)
        path = self._stage_path(plan.origin, plan.stage)
        moves_end = last_at - dt.timedelta(hours=1) if owner and last_at else end
        times = sorted(self._between(created, moves_end) for _ in path[1:])
        assigned_at = None
        if plan.origin == "marketing" and holder is not None:
            # marketing qualifies the lead up to target and routes it to the rep, who takes it on
            k = next(i for i, s in enumerate(path) if STAGES.index(s) >= TARGET)
            assigned_at = times[k - 1] + dt.timedelta(minutes=1)
            times[k:] = [max(t, assigned_at + dt.timedelta(minutes=1)) for t in times[k:]]

        def worker(at):
            return holder if holder is not None and (assigned_at is None or at >= assigned_at) else marketing

        creator = marketing if plan.origin == "marketing" else holder
        created_owner = holder if plan.origin == "rep" else None
        event(created, creator.id, cid, "customer.created", stage=path[0],
              owner_id=created_owner.id if created_owner else None,
              owner=created_owner.full_name if created_owner else None)
        rows = self.rows[StageChange]
        rows.append((self._next_id(StageChange), cid, None, path[0], _ts(created), creator.id))
        for (old, new), at in zip(itertools.pairwise(path), times):
            actor = worker(at).id
            rows.append((self._next_id(StageChange), cid, old, new, _ts(at), actor))
            event(at, actor, cid, "customer.stage_changed", from_stage=old, to_stage=new,
                  direction="promoted" if STAGES.index(new) > STAGES.index(old) else "demoted", reason="")
        if assigned_at is not None:
            event(assigned_at, marketing.id, cid, "customer.owner_changed", from_owner=None,
                  to_owner=holder.full_name, from_owner_id=None, to_owner_id=holder.id, reason=ROUTING_REASON)
        pool = None
        if released_at is not None:
            # released by an admin into its region's pool, with the reason in the ledger
            pool, reason = self.region_pools.get(region_id), rng.choice(RELEASE_REASONS)
            self.rows[PoolEvent].append((self._next_id(PoolEvent), _ts(released_at), "release", people.admin.id, cid,
                                         holder.id, pool and pool.id, self.rules.version, reason))
            event(released_at, people.admin.id, cid, "pool.released", pool=pool.name_zh if pool else "",
                  pool_en=pool.name_en if pool else "", from_owner_id=holder.id, reason=reason, inputs={},
                  rule_version=self.rules.version)
        stage_changed_at = times[-1] if times else created
        return SimpleNamespace(
            created=created, end=end, owner=owner, creator=creator, worker=worker, last_at=last_at,
            last_next=last_next, stage_changed_at=stage_changed_at,
            updated_at=max(stage_changed_at, assigned_at or created, released_at or created),
            claimed_at=(assigned_at or created) if owner else None, pool_id=pool and pool.id,
            released_at=released_at, released_from=holder.id if released_at else None,
            released_team=holder.team_id if released_at else None)

    def _contacts(self, cid, story, area_code, domain, event):
        """1–4 contacts, the first (a decision maker or buyer) entered with the customer; returns
        (id, created_at, how a rep names them, the fields completeness and validity look at)."""
        rng = self.rng
        count = CONTACT_COUNT(rng)
        first = story.created + dt.timedelta(minutes=rng.randrange(1, 30))
        times = [first] + sorted(self._between(first, story.end, 0.6) for _ in range(count - 1))
        out = []
        for i, at in enumerate(times):
            title, role, department, _ = FIRST_TITLE(rng) if i == 0 else OTHER_TITLE(rng)
            surname, pinyin, name = person(rng)
            mob = mobile(rng) if rng.random() < 0.92 else ""
            office = landline(rng, area_code) + (f"转{rng.randrange(800, 8999)}" if rng.random() < 0.3 else "") \
                if rng.random() < 0.35 else ""
            boss = out[0][0] if out and out[0][3].decision_role == "decision_maker" and rng.random() < 0.6 \
                else None
            fields = SimpleNamespace(decision_role=role if i == 0 or rng.random() < 0.88 else "", mobile=mob,
                                     phone=office, active=i == 0 or rng.random() < 0.95)
            contact_id = self._next_id(Contact)
            self.rows[Contact].append((
                contact_id, cid, name, title, department, mob, office, normalize_phone(office) if office else "",
                mob, f"{pinyin}{rng.randrange(1, 999)}@{domain}" if rng.random() < 0.3 else "",
                (mob if rng.random() < 0.5 else f"wx_{rng.randrange(10**7, 10**8)}") if rng.random() < 0.5
                else "", fields.decision_role, boss, fields.active, _ts(at)))
            # how a rep writes about them: 张总, 李经理, or the full name
            suffix = "总" if role == "decision_maker" else next(
                (t for t in ("经理", "总监", "主管") if title.endswith(t)), "")
            out.append((contact_id, at, surname + suffix if suffix else name, fields))
            event(at, story.worker(at).id, cid, "contact.added", contact_id=contact_id, name=name, title=title)
        return out

    def _followups(self, cid, plan, story, contacts, values, event):
        """The follow-ups up to the latest, which sets the next follow-up date (an owner's latest
        is a valid one, with a key person); returns (last follow-up time, next follow-up date,
        the owner's last valid follow-up time)."""
        rng, marketing = self.rng, self.people.marketing
        if not story.last_at:
            return None, None, None
        times = sorted(self._between(story.created, story.last_at) for _ in range(plan.followups - 1))
        times.append(story.last_at)
        next_date = last_valid_at = None
        for i, at in enumerate(times):
            author = story.worker(at)
            last_by_owner = i == len(times) - 1 and story.owner is not None
            ftype = (MARKETING_TYPES if author is marketing else VALID_TYPES if last_by_owner else REP_TYPES)(rng)
            present = [c for c in contacts if c[1] <= at]
            if last_by_owner:
                present = [c for c in present if c[3].decision_role in ("decision_maker", "buyer")]
            contact = rng.choice(present) if present and (last_by_owner or rng.random() < 0.85) else None
            content = self._content(ftype, contact[2] if contact else rng.choice(NOBODY_IN_PARTICULAR), values["city"])
            outcome = rng.choice(OUTCOMES) if rng.random() < 0.7 else ""
            if last_by_owner:
                next_date = story.last_next
            elif rng.random() < 0.5:
                next_date = self._local_day(at) + dt.timedelta(days=rng.randrange(1, 15))
            else:
                next_date = None
            logged_at = min(at + dt.timedelta(minutes=rng.randrange(1, 240)), self.now)
            valid, reasons = self._validity_of(ftype, values["business_model"], contact and contact[3], content, at,
                                               logged_at)
            if valid and story.owner is not None and author is story.owner:
                last_valid_at = at
            fid = self._next_id(FollowUp)
            self.rows[FollowUp].append((
                fid, cid, author.id, ftype, _ts(at), contact[0] if contact else None, content, outcome,
                rng.choice(NEXT_STEPS) if next_date else "", next_date and next_date.isoformat(), _ts(logged_at),
                valid, reasons))
            event(at, author.id, cid, "followup.logged", followup_id=fid, type=ftype, at=at.isoformat(sep=" "),
                  excerpt=content[:80], valid=valid)
        return times[-1], next_date, last_valid_at

    def flush(self, keep_audit=False):
        """Insert the buffered rows; audit rows are numbered in time order (kept back if asked)."""
        for model in (Customer, Contact, FollowUp, StageChange, PoolEvent):
            insert_rows(model, self.rows[model])
            self.rows[model] = []
        if not keep_audit:
            events = sorted(self.rows[AuditEvent], key=lambda e: (e[0], e[1]))
            insert_rows(AuditEvent, [(self._next_id(AuditEvent), _ts(at), actor, cid, kind,
                                      AuditEvent.data.db_value(data)) for at, _, actor, cid, kind, data in events])
            self.rows[AuditEvent] = []


# ---- planning ---------------------------------------------------------------------------------

def customer_age(rng, holder, released, origin, stage):
    """Days since the customer was created, by how it came to be where it is. An owner's customers
    without a deal are recent (the no-deal release rule, 90 days by default, would have taken
    older ones back to the pool)."""
    if holder is not None:
        if released:
            return rng.uniform(120, 730)
        return rng.uniform(60, 730) if stage in DEALT_STAGES else rng.uniform(20, 85)
    if stage in ("unidentified", "prospect") and origin == "marketing":
        return rng.uniform(1, 365)
    return rng.uniform(2, 730)


def owned_plans(rng, owner, count, stages=None, dues=None):
    """`count` customers of `owner`, 30 % of them routed from marketing, with 4–16 follow-ups."""
    plans = []
    for i in range(count):
        stage = stages[i] if stages else OWNED_STAGES(rng)
        origin = "marketing" if rng.random() < 0.3 else "rep"
        plans.append(Plan(customer_age(rng, owner, False, origin, stage), owner, False, stage, origin,
                          rng.randint(4, 16), dues[i] if dues else None))
    return plans


def lead_plan(rng):
    """A marketing lead, unowned, not yet or just qualified as a prospect."""
    stage = "unidentified" if rng.random() < 0.55 else "prospect"
    return Plan(customer_age(rng, None, False, "marketing", stage), None, False, stage, "marketing",
                rng.randint(0, 2), None)


def pool_plan(rng, reps, stage, followups):
    """An unowned customer: marketing's (up to target) or one a rep worked and released."""
    released = STAGES.index(stage) > TARGET or (stage == "target" and rng.random() < 0.5)
    holder = rng.choice(reps) if released else None
    origin = "rep" if released and rng.random() < 0.7 else "marketing"
    return Plan(customer_age(rng, holder, released, origin, stage), holder, released, stage, origin,
                followups, None)


def demo_plans(rng, people, total=DEMO_CUSTOMERS, leads=DEMO_LEADS):
    """About 45 customers per rep (rep001 with a fixed mix of stages and due dates), a few per
    manager, marketing's leads, and the rest in the pool; ordered by creation time."""
    plans = []
    for rep in people.reps:
        if rep.username == "rep001":
            stages = ["target"] * 14 + ["intent"] * 13 + ["signed"] * 8 + ["long_term"] * 10
            dues = ["today"] * 5 + ["overdue"] * 7 + ["upcoming"] * 22 + ["none"] * 11
            rng.shuffle(stages)
            rng.shuffle(dues)
            plans += owned_plans(rng, rep, 45, stages, dues)
        else:
            plans += owned_plans(rng, rep, rng.randint(38, 50))
    for manager in people.managers:
        plans += owned_plans(rng, manager, rng.randint(3, 8))
    plans += [lead_plan(rng) for _ in range(leads)]
    pool_stages = Choice([("prospect", 40), ("target", 50), ("intent", 10)])
    while len(plans) < total:
        plans.append(pool_plan(rng, people.reps, pool_stages(rng), rng.randint(0, 5)))
    plans.sort(key=lambda p: -p.age)
    return plans


# ---- loading ----------------------------------------------------------------------------------

def is_loaded():
    return AuditEvent.select().where(AuditEvent.kind == MARKER).exists()


# Later domains' scenes: seeds/<name>.py with stage(say), run after the pool scenes when present.
LATER_SCENES = ("demo_ownership", "demo_conflicts", "demo_deals", "demo_projects", "demo_orders", "demo_service",
                "demo_leads", "demo_imports", "demo_value", "demo_fields", "demo_quality", "demo_cleansing",
                "demo_plans", "demo_targets", "demo_groups", "demo_dashboards", "demo_drops", "demo_appeals",
                "demo_fairness", "demo_clock")


def load_once(progress=None):
    """Load the demo data unless it is there already; True if it loaded.

    One transaction (taken with the write lock up front), so two processes starting at once
    load it once, and a failed load leaves nothing behind.
    """
    say = progress or (lambda msg: None)
    if is_loaded():
        return False
    started = time.perf_counter()
    with db.atomic():
        if is_loaded():
            return False
        rng = Random(SEED)
        now = clock.now()
        say("demo data: people and teams")
        people = create_people(rng, now)
        plans = demo_plans(rng, people)
        builder = CustomerBuilder(rng, people, create_groups(rng), now)
        for start in range(0, len(plans), 5000):
            for plan in plans[start:start + 5000]:
                builder.add(plan)
            builder.flush(keep_audit=True)
            say(f"demo data: {min(start + 5000, len(plans)):,} of {len(plans):,} customers")
        builder.flush()
        say("demo data: pools, release dates, search index")
        pools.place_unowned()
        pools.recompute_releases(now)
        demo_history.stage(say)  # the weeks before today, in time order, before today's scenes
        demo_scenes.stage(say)
        for name in LATER_SCENES:  # each domain's demo scenes, through its verbs, in this order
            if importlib.util.find_spec(f"seeds.{name}") is not None:
                importlib.import_module(f"seeds.{name}").stage(say)
        demo_history.ledger_in_time_order()
        for name in LATER_SCENES:  # scenes that read the ledger by its numbers (the fairness detectors)
            after = getattr(importlib.import_module(f"seeds.{name}"), "after_ledger", None) \
                if importlib.util.find_spec(f"seeds.{name}") is not None else None
            if after is not None:
                after(say)
        search.rebuild()
        AuditEvent.create(at=clock.now(), actor=people.admin.id, kind=MARKER,
                          data={"customers": len(plans), "seed": SEED})
        db.execute_sql("ANALYZE")  # both engines: fresh statistics for the planner
    say(f"demo data loaded in {time.perf_counter() - started:.0f} s")
    return True


def logins_text():
    """The demo logins, printable on the console at start-up (no database needed)."""
    teams = team_names()
    last_rep = len(teams) * REPS_PER_TEAM
    return "\n".join([
        f"Demo logins (the password of every account is {PASSWORD})",
        "  admin          admin       users, teams, settings; every customer: /customers?scope=all",
        "  marketing      marketing   leads in stages unidentified / prospect; qualify one up to target",
        "  service        service     any customer file, read-only",
        "  quality        service     + the quality permission: the quality queue, samples, checks",
        f"  manager01      manager     the team's customers and pipeline ({teams[0][1]}; "
        f"manager01..manager{len(teams):02d}, one per team)",
        f"  rep001         sales rep   workbench with follow-ups due today and overdue; log one, "
        f"promote a customer ({teams[0][1]})",
        f"  rep002..rep{last_rep:03d}  sales reps  about 45 customers each, {REPS_PER_TEAM} reps per team",
    ])
