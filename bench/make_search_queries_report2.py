"""Write bench/data/search/queries-report2.jsonl ONCE: a fresh held-out split, frozen before tuning.

    python bench/make_search_queries_report2.py    # refuses to overwrite the frozen file (--force rebuilds)

Why: the ``report`` split of bench/make_search_queries.py has been looked at (its misses were
analysed after the second round), so it no longer measures held-out performance cleanly. This split,
``report2``, was written and committed before the third round of tuning and is used for nothing but
the final report. It follows the rules of the other two files:

Targets: library utterances (bench/search_library.py) that no earlier query targets where the
library allows it. English: the unused utterances of >= 7 words, <= 15 s, without digits, shuffled
with seed 7878; picked in that order, skipping ones with nothing to paraphrase (names, lists).
Mandarin has too few unused utterances (29, most of them 2-3 s music/app commands), so Mandarin
paraphrases go first to the unused ones that have a sentence to paraphrase, then to utterances the
earlier files used only for an English translation query; translations into English (query in
English, speech in Mandarin) go to utterances the earlier files used only for Mandarin paraphrases
or verbatim fragments: a new query for each, never a query of the same kind again.
Hand-written, from the reference text only: paraphrases sharing at most one content word with the
target, translations, and no-answer questions — near-topic (the library's themes, each checked
against the reference texts to be unsaid) and off-topic, both languages. Verbatim fragments and
homophone substitutions are cut by the first file's seeded rules from this file's targets.
"""

from __future__ import annotations

import _benchpath  # noqa: F401  (first: keeps bench/inspect.py from shadowing the stdlib)

import argparse
import json
import random
import sys
from pathlib import Path

from make_search_queries import OUT as FIRST, homophone_zh, verbatim_en, verbatim_zh, write_split  # noqa: E402
from make_search_queries_tune2 import OUT as SECOND  # noqa: E402
from search_library import build_episodes  # noqa: E402

OUT = Path(__file__).resolve().parent / "data" / "search" / "queries-report2.jsonl"
SEED = 5050

EN_PARAPHRASE = {  # English speech, English query
    "dev/en/pocketsphinx/librivox_0890.wav": "except if being somewhat unfeeling and self-centred counts as bearing malice",
    "cathy/audio/arctic_b0100.flac": "a single opportunity remained to rescue Jeanne",
    "dev/en/dataset-voice-cathy/arctic_a0003_1592748500.wav": "that night the pair clasped palms yet again, for the 20th occasion",
    "dev/en/dataset-voice-cathy/arctic_a0039_1592747670.wav": "the vessel ought to dock in a fortnight at most",
    "dev/en/dataset-voice-cathy/arctic_a0025_1592747970.wav": "I nearly went ahead, but calmer reasoning won out",
    "cathy/audio/arctic_b0137.flac": "yet the small flaw didn't bother him",
    "cathy/audio/arctic_b0402.flac": "a selfless deed is something done for the good of other people",
    "cathy/audio/arctic_b0503.flac": "odours of unfamiliar plants drifted from the tropical shore",
    "cathy/audio/arctic_a0198.flac": "at times her sleep was full of apparitions",
    "dev/en/dataset-voice-cathy/arctic_a0026_1592747944.wav": "I realised a reckoning would be unavoidable",
    "cathy/audio/arctic_b0133.flac": "then came a thunderous bellow that made the ground tremble",
    "cathy/audio/arctic_a0432.flac": "the lad steering the boat panicked",
    "dev/en/dataset-voice-cathy/arctic_b0016_1592700991.wav": "laughing softly, he took out his tobacco pipe and started to pack it",
    "cathy/audio/arctic_a0344.flac": "his enormous energy appeared to occupy the whole space",
    "cathy/audio/arctic_b0505.flac": "on the opening day I attacked the task so bravely",
    "cathy/audio/arctic_a0126.flac": "daily she grew more essential to his life",
    "cathy/audio/arctic_b0346.flac": "that's completely false, not a shred of it is correct",
    "dev/en/dataset-voice-cathy/arctic_a0014_1592748281.wav": "at last you're getting to the point, Phil, he cried",
    "dev/en/dataset-voice-cathy/arctic_a0034_1592747795.wav": "people like Selden would not spare even wives and kids",
    "dev/en/dataset-voice-cathy/arctic_a0058_1592747187.wav": "mostly I was just nosy, that's why I asked around",
}
EN_CROSS = {  # English speech, Mandarin query
    "cathy/audio/arctic_a0197.flac": "聪明的车夫会把这样的狗杀掉或者放走",
    "cathy/audio/arctic_b0116.flac": "菲利普回答说，我在这道山脊一带打过猎",
    "cathy/audio/arctic_a0147.flac": "片刻之前他还沉醉在近乎疯狂的喜悦里",
    "cathy/audio/arctic_b0104.flac": "一阵阵剧痛像电流一样穿过他的身体",
    "dev/en/dataset-voice-cathy/arctic_a0046_1592747485.wav": "女孩转向他，眼中闪着突如其来的恐惧",
    "cathy/audio/arctic_a0328.flac": "火人族和我们一样住在山洞里",
    "dev/en/dataset-voice-cathy/arctic_b0029_1592700751.wav": "所有行动都是从蒙特利尔和多伦多进行的",
    "cathy/audio/arctic_b0048.flac": "他看起来像是刚熬过了一两个难受的小时",
    "dev/en/dataset-voice-cathy/arctic_b0037_1592700581.wav": "菲利普知道她不是印第安人",
    "dev/en/denoiser_vctk_clean/p287_004.wav": "我们还需要给孩子们买一条塑料小蛇和一只大玩具青蛙",
}
ZH_PARAPHRASE = {  # Mandarin speech, Mandarin query
    # never targeted before
    "dev/zh/aishell-sample/BAC009S0150W0351.wav": "请奥林匹克组织不再使用",
    "dev/zh/aishell-sample/BAC009S0150W0231.wav": "最终才去做交易所之外的买卖",
    "dev/zh/aishell-sample/BAC009S0150W0421.wav": "脖子上挂着黄金项链，眼上架着太阳镜",
    "dev/zh/aishell-sample/BAC009S0252W0361.wav": "重点仍是在学校里做宣传",
    "dev/zh/aishell-sample/BAC009S0150W0271.wav": "它的移动电话销量占比急剧下滑",
    "dev/zh/aishell-sample/BAC009S0150W0341.wav": "同时提到跟日本首都举办的奥林匹克运动会有关",
    "dev/zh/aishell-sample/BAC009S0150W0211.wav": "政府间的资金划拨指的是什么",
    "dev/zh/aishell-sample/BAC009S0150W0001.wav": "把温度调成29度",
    "dev/zh/aishell-sample/BAC009S0252W0001.wav": "冰箱可调温区定在2℃",
    "dev/zh/FireRedASR/IT0011W0001.wav": "来点别的音乐，下一曲",
    "dev/zh/speech_recognition/chinese.wav": "结果伤到了本人的足部",
    # earlier only the target of an English translation query
    "dev/zh/aishell-sample/BAC009S0150W0191.wav": "就措施落地的困难大小而言",
    "dev/zh/aishell-sample/BAC009S0150W0461.wav": "张伟还通过篡改票据之类的手段",
    "dev/zh/FunASR/asr_example.wav": "诚邀各位试一试达摩院新出的听写转文字工具",
    "dev/zh/aishell-sample/BAC009S0150W0171.wav": "如今成了楼市里最后高位买入的冤大头",
    "dev/zh/wenet/aishell-BAC009S0724W0121.wav": "羊城的楼盘经纪行业组织研判认为",
    "dev/zh/aishell-sample/BAC009S0150W0331.wav": "该企业表示2016年是首期的开端",
    "dev/zh/aishell-sample/BAC009S0252W0171.wav": "新闻工作者到售楼处实地一看便发现",
    "dev/zh/aishell-sample/BAC009S0252W0331.wav": "可有些企业并无真正的盈利作后盾",
    "dev/zh/aishell-sample/BAC009S0252W0291.wav": "这种贴身佩戴的电子产品眼下主要是腕带和挂链",
}
ZH_CROSS = {  # Mandarin speech, English query (earlier: Mandarin paraphrase or verbatim targets only)
    "dev/zh/aishell-sample/BAC009S0150W0481.wav": "a police officer from the Longhuashan station in Xiantao calmly shot the Tibetan mastiff dead",
    "dev/zh/FireRedASR/TEST_MEETING_T0000000001_S00000.wav": "first let each department report on the mall's results for the first half of the year",
    "dev/zh/aishell-sample/BAC009S0252W0341.wav": "conveying the courage, passion and joy of skateboarding",
    "dev/zh/aishell-sample/BAC009S0252W0321.wav": "roll out the 3D printing business across the whole country",
    "dev/zh/aishell-sample/BAC009S0252W0421.wav": "Little S posted a photo of herself with her youngest daughter on Weibo",
    "dev/zh/aishell-sample/BAC009S0252W0211.wav": "this revision also added principles for listing fund companies",
    "dev/zh/aishell-sample/BAC009S0150W0371.wav": "also stole two photos a foreigner had published on a personal blog",
    "dev/zh/aishell-sample/BAC009S0150W0141.wav": "there is almost no chance of reaching one and a half times",
    "dev/zh/aishell-sample/BAC009S0150W0181.wav": "the number of home buyers born in the nineties has fallen sharply",
    "dev/zh/FireRedASR/BAC009S0764W0121.wav": "trading even came almost to a standstill",
}
EN_NOANSWER_NEAR = [
    "the trappers sold their furs to the trading post before the thaw",
    "the printer's apprentice carved a new woodblock for the title page",
    "wolves circled the sled dogs during the blizzard",
    "Gregson's brother was arrested for smuggling whisky across the border",
    "the missionary built a school for the village children",
    "the banker refused to lend money for the railway",
    "the stock exchange closed early because of the panic",
    "the landlord raised the rent on the apartment",
]
EN_NOANSWER_OFF = [
    "what is the weather forecast for Saturday", "how long should I boil an egg",
    "book a table for two at a sushi restaurant", "my laptop battery drains too fast",
    "reset my email password", "which vaccines does a kitten need",
    "train times from London to Manchester",
]
ZH_NOANSWER_NEAR = [
    "迪士尼乐园门票下个月涨价", "银行下调了房贷利率", "羽毛球世锦赛男双夺冠", "华为发布了折叠屏手机",
    "地铁十号线发生信号故障", "教育部公布了高考分数线", "外卖骑手因超速被交警处罚", "游泳运动员打破亚洲纪录",
]
ZH_NOANSWER_OFF = [
    "明天早上七点叫我起床", "番茄炒蛋怎么做", "帮我查一下去机场的路线", "猫咪不吃东西怎么办",
    "健身房年卡多少钱", "下周会下雪吗", "给我讲个笑话",
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args()
    if OUT.exists() and not args.force:
        sys.exit(f"{OUT} exists and is frozen; --force rebuilds it (only before any tuning).")
    from pypinyin import Style, lazy_pinyin

    eps = build_episodes()
    utts = {u["id"]: u for e in eps for u in e["utterances"]}
    earlier = [json.loads(line) for path in (FIRST, SECOND) for line in open(path, encoding="utf-8")]
    earlier_ids = {q["id"] for q in earlier}
    earlier_queries = {q["query"] for q in earlier}
    rows = []

    def add(cat, lang, query, target, kind=None):
        t = utts[target] if target else None
        assert query not in earlier_queries, query
        rows.append({"category": cat, "query_lang": lang, "query": query,
                     "target": t["id"] if t else None, "target_lang": t["lang"] if t else None,
                     "target_text": t["text"] if t else None, **({"kind": kind} if kind else {})})

    for tid, q in EN_PARAPHRASE.items():
        add("paraphrase", "en", q, tid)
    for tid, q in ZH_PARAPHRASE.items():
        add("paraphrase", "zh", q, tid)
    for tid, q in EN_CROSS.items():
        add("crosslingual", "zh", q, tid)
    for tid, q in ZH_CROSS.items():
        add("crosslingual", "en", q, tid)
    rng = random.Random(SEED)
    for tid in list(EN_PARAPHRASE)[:5] + list(EN_CROSS)[:5]:
        add("verbatim", "en", verbatim_en(utts[tid], rng), tid)
    for tid in list(ZH_PARAPHRASE)[:5] + list(ZH_CROSS)[:5]:
        add("verbatim", "zh", verbatim_zh(utts[tid], rng), tid)
    pool = {c for u in utts.values() if u["lang"] == "zh" for c in u["text"] if "\u4e00" <= c <= "\u9fff"}
    by_pinyin: dict[str, set] = {}
    for c in pool:
        by_pinyin.setdefault(lazy_pinyin(c, style=Style.NORMAL)[0], set()).add(c)
    homs = 0
    for tid in list(ZH_PARAPHRASE)[11:] + list(ZH_CROSS)[5:] + list(ZH_PARAPHRASE)[:11]:
        if homs == 10:
            break
        if len([c for c in utts[tid]["text"] if "\u4e00" <= c <= "\u9fff"]) < 6:
            continue
        q = homophone_zh(utts[tid], rng, by_pinyin)
        if q:
            add("homophone", "zh", q, tid)
            homs += 1
    for q in EN_NOANSWER_NEAR:
        add("noanswer", "en", q, None, "near-topic")
    for q in EN_NOANSWER_OFF:
        add("noanswer", "en", q, None, "off-topic")
    for q in ZH_NOANSWER_NEAR:
        add("noanswer", "zh", q, None, "near-topic")
    for q in ZH_NOANSWER_OFF:
        add("noanswer", "zh", q, None, "off-topic")
    write_split(rows, OUT, "report2", "r2", earlier_ids)

if __name__ == "__main__":
    main()
