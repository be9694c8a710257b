"""Write bench/data/search/queries.jsonl ONCE, before any tuning; the file is then frozen in the repo.

    python bench/make_search_queries.py        # refuses to overwrite the frozen file (use --force to rebuild it)

Queries were written from the reference transcripts of the benchmark library (bench/search_library.py):
hand-written paraphrases (sharing at most one content word with the target), translations (a Mandarin
query for English speech and the reverse) and questions about things never said; verbatim fragments
and Mandarin homophone substitutions (1-2 characters replaced by others with the same toneless pinyin)
are cut from references by a seeded rule. Each query names its target utterance (its source clip), or
none for no-answer questions. Split: alternate queries of each category go to ``tune`` and ``report``.
"""

from __future__ import annotations

import _benchpath  # noqa: F401  (first: keeps bench/inspect.py from shadowing the stdlib)

import argparse
import json
import random
import re
import sys
from pathlib import Path

from search_library import build_episodes  # noqa: E402

OUT = Path(__file__).resolve().parent / "data" / "search" / "queries.jsonl"
SEED = 1414

EN_PARAPHRASE = {  # target (index into the seeded English sample) -> query
    0: "offer your own self, not merely cash",
    2: "I'm grateful but can't put my emotions into words",
    3: "the lunar disc was sinking toward the west",
    4: "he held no resentment and hardly anyone hated him",
    5: "it all went well, even beyond what I anticipated",
    6: "Philip hesitated, listening hard for any faint noise",
    8: "the people opposite gave no reply",
    11: "a small frail man, not as tall as his friend",
    13: "we make our food over a fire of charcoal and paraffin heaters",
    15: "I was totally absorbed in what I was doing",
    17: "he grasped what that glance meant",
    20: "we'll pick her up midweek at the railway depot after she packs the stuff in sacks",
    21: "the husky's pale teeth shone right next to him",
    23: "he resolved to keep better control of his own emotions",
    24: "O'Brien removed his jacket and exposed his limb",
    29: "after that, be careful about pressure ulcers from lying down",
    30: "I had no inborn tendency to crave liquor",
    31: "my surprise attack sent him sprawling to the ground",
    32: "listen to me and go on the holiday",
    40: "ever after, an unknown power has opposed us all along the way",
}
EN_CROSS = {  # Mandarin query for English speech
    1: "我觉得会有一场精彩的打斗",
    7: "然后你可以在船头的长袍堆里舒服地躺着",
    9: "他告诉菲利普这种事以前发生过",
    12: "他的目光一刻也没有离开同伴的脸",
    16: "此刻我身边有那个稀奇的东西",
    19: "正是这个提议让道特里脑中产生了一个大想法",
    22: "让自己顺从那些撕扯着你的水流",
    25: "他没有回答，等着惠特莫尔继续说下去",
    26: "我们不会再度过这样的一个夜晚",
    27: "加拿大资本迅速联合起来，申请同样的特权",
    28: "菲利普朝格雷格森走了一步，有点想把他叫醒",
    33: "没人知道当地人是怎么得到它们的",
    34: "伯克自己因为那个微笑而批评过它",
    36: "表象所能知道的只是海市蜃楼",
    37: "从那一刻起，他对伯利兹的友情变成了仇恨和嫉妒",
    38: "一点治疗和按摩，再加上医生的一些帮助",
    39: "你这冰霜中的黄色巨物",
    41: "如果他娶了一个更和蔼的妻子，他可能会更受人尊敬",
    10: "邓纳姆，你的儿子能和杰西一起去吗",
    14: "和田、路易斯和管家都是亚洲血统的仆人",
}
ZH_PARAPHRASE = {
    0: "在体坛比赛方面给国家立下了大功",
    1: "表现滑板项目里的胆量热情与喜悦",
    2: "先在部分区域进行小规模的试行",
    3: "因为智能穿戴产品体积很小而受到制约",
    4: "九十年代出生的买房人群数量大幅下降",
    8: "银行业好像也在增加对楼市的资金投入",
    9: "这回修改同时加入了对基金管理机构挂牌的规定",
    10: "车企依然具备大量的生产经验",
    12: "在各地推广立体打印服务",
    13: "不过总体上在公众中的作用还比较有限",
    15: "介绍了之前挑选徽标的做法与流程",
    21: "警察冷静地开枪打死了一条大狗",
    22: "还偷用了老外发在自己网络日志上的两幅图片",
    24: "小S在社交网站分享了跟幼女的合影",
    27: "拖车到达的时候已经无法开上干道",
    28: "由于我们的流程、机器、技术和原料都是一样的",
    32: "涨到原来的一倍半基本不可能",
    35: "仿佛望见整个星球在移动",
    39: "妇女替工人交租金引起怀疑被老公砍死",
    41: "尽可能体现民众的看法",
}
ZH_CROSS = {  # English query for Mandarin speech
    0: "made outstanding contributions to our country in competitive sports",
    6: "the reporter saw at the housing development site",
    11: "where implementation of property market control measures deviates or falls short",
    14: "while some companies have no real earnings to back them",
    16: "besides setting up a long-term incentive and restraint mechanism",
    18: "have become the bag holders of today's housing market",
    19: "will strictly enforce the property market regulation policies",
    20: "everyone is welcome to try the speech recognition model released by DAMO Academy",
    23: "in March this year Samsung announced its payment plan",
    25: "but the two of them also announced they would quit",
    26: "in terms of how difficult the policy is to implement",
    29: "analysis by the Guangzhou real estate agency association",
    30: "Zhang Wei also altered checks and used other methods",
    31: "the new Samsung watch will come with mobile payment as standard",
    33: "shift to boosting housing sales and property development investment",
    34: "I hope you will do even better than me in the future",
    36: "the lies of the psychic Kyoko Odagiri",
    37: "the company announced 2016 as the starting point of the first phase",
    38: "recently several property developers released their 2014 annual reports",
    40: "such wearables are currently mainly smart bracelets and necklaces",
}
EN_NOANSWER = [
    "how do I reset my wifi router password", "quarterly earnings of the semiconductor company",
    "what is the recipe for chocolate chip cookies", "the football world cup final score",
    "install the printer driver on windows", "my flight to tokyo was cancelled",
    "symptoms of seasonal flu in children", "the interest rate on my mortgage",
    "upgrade the smartphone operating system", "vegan restaurant recommendations downtown",
    "how to renew a passport online", "the electric car battery range",
    "machine learning model training on GPUs", "book a dentist appointment",
    "the stock price of the bank dropped", "solar panels on the roof",
    "parking ticket fine appeal", "my laptop screen is cracked",
    "cryptocurrency exchange fees", "yoga class schedule for beginners",
]
ZH_NOANSWER = [
    "怎么重置路由器的密码", "明天北京会下雪吗", "巧克力蛋糕的做法", "世界杯足球赛决赛比分",
    "我的航班被取消了怎么办", "儿童流感的症状有哪些", "如何在网上续签护照", "电动汽车的续航里程",
    "牙医预约改到星期二", "太阳能电池板安装在屋顶", "停车罚单怎么申诉", "笔记本电脑屏幕碎了",
    "加密货币交易手续费", "初学者瑜伽课的时间表", "熊猫宝宝在动物园出生", "高考数学试卷太难了",
    "火锅店排队两个小时", "春节回家的火车票", "猫咪不爱吃猫粮怎么办", "钢琴考级需要准备什么",
]


def samples(utts):
    en = [u for u in utts if u["lang"] == "en" and len(u["text"].split()) >= 7]
    zh = [u for u in utts if u["lang"] == "zh" and len(u["text"]) >= 10]
    r = random.Random(SEED)
    r.shuffle(en)
    r.shuffle(zh)
    return en, zh


def verbatim_en(u, rng) -> str:
    words = re.findall(r"[A-Za-z0-9']+", u["text"])
    n = rng.randint(3, min(6, len(words)))
    i = rng.randint(0, len(words) - n)
    return " ".join(words[i:i + n]).lower()


def verbatim_zh(u, rng) -> str:
    chars = re.sub(r"[^\u4e00-\u9fff]", "", u["text"])
    n = rng.randint(4, min(8, len(chars)))
    i = rng.randint(0, len(chars) - n)
    return chars[i:i + n]


def homophone_zh(u, rng, by_pinyin) -> str | None:
    from pypinyin import Style, lazy_pinyin

    frag = verbatim_zh(u, rng)
    idx = list(range(len(frag)))
    rng.shuffle(idx)
    out = list(frag)
    changed = 0
    want = 1 if len(frag) <= 6 else 2
    for i in idx:
        py = lazy_pinyin(frag[i], style=Style.NORMAL)[0]
        alts = sorted(c for c in by_pinyin.get(py, ()) if c != frag[i])
        if alts:
            out[i] = rng.choice(alts)
            changed += 1
            if changed == want:
                break
    return "".join(out) if changed else None


def write_split(rows: list[dict], out, split: str, prefix: str, taken_ids: set) -> None:
    """Number each (category, query language) run, tag the split and write the JSONL of a frozen split."""
    counters: dict = {}
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", encoding="utf-8") as fh:
        for r in rows:
            key = (r["category"], r["query_lang"])
            counters[key] = counters.get(key, 0) + 1
            r["split"] = split
            r["id"] = f"{prefix}-{r['category']}-{r['query_lang']}-{counters[key]:02d}"
            assert r["id"] not in taken_ids
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} queries to {out}", file=sys.stderr)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args()
    if OUT.exists() and not args.force:
        sys.exit(f"{OUT} exists and is frozen; --force rebuilds it (only before any tuning).")
    from pypinyin import Style, lazy_pinyin

    eps = build_episodes()
    utts = [u for e in eps for u in e["utterances"]]
    en, zh = samples(utts)
    rng = random.Random(SEED)
    rows = []

    def add(cat, lang, query, target):
        rows.append({"category": cat, "query_lang": lang, "query": query,
                     "target": target["id"] if target else None, "target_lang": target["lang"] if target else None,
                     "target_text": target["text"] if target else None})

    for k, q in EN_PARAPHRASE.items():
        add("paraphrase", "en", q, en[k])
    for k, q in ZH_PARAPHRASE.items():
        add("paraphrase", "zh", q, zh[k])
    for k, q in EN_CROSS.items():
        add("crosslingual", "zh", q, en[k])
    for k, q in ZH_CROSS.items():
        add("crosslingual", "en", q, zh[k])
    for u in en[42:62]:
        add("verbatim", "en", verbatim_en(u, rng), u)
    zh_rest = zh[42:]
    for u in zh_rest[:20]:
        add("verbatim", "zh", verbatim_zh(u, rng), u)
    pool = {c for u in utts if u["lang"] == "zh" for c in u["text"] if "\u4e00" <= c <= "\u9fff"}
    by_pinyin: dict[str, set] = {}
    for c in pool:
        by_pinyin.setdefault(lazy_pinyin(c, style=Style.NORMAL)[0], set()).add(c)
    homs = 0
    for u in zh_rest[20:] + zh[:42]:
        if homs == 20:
            break
        q = homophone_zh(u, rng, by_pinyin)
        if q:
            add("homophone", "zh", q, u)
            homs += 1
    for q in EN_NOANSWER:
        add("noanswer", "en", q, None)
    for q in ZH_NOANSWER:
        add("noanswer", "zh", q, None)
    counters: dict = {}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with open(OUT, "w", encoding="utf-8") as fh:
        for r in rows:
            key = (r["category"], r["query_lang"])
            counters[key] = counters.get(key, 0) + 1
            r["split"] = "tune" if counters[key] % 2 == 1 else "report"
            r["id"] = f"{r['category']}-{r['query_lang']}-{counters[key]:02d}"
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} queries to {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
