"""Write bench/data/search/queries-report3.jsonl ONCE: a fresh held-out split, frozen before tuning.

    python bench/make_search_queries_report3.py    # refuses to overwrite the frozen file (--force rebuilds)

Why: ``report2`` was run once at the end of the third round and its misses were read, so it no
longer measures held-out performance cleanly. This split, ``report3``, was written and committed
before the fourth round changed any ranking, and is used for nothing but the final report.
Same rules as the other files (bench/make_search_queries_report2.py):

Targets. English: utterances no earlier query targets (the library still has 241 unused ones of
>= 7 words, <= 15 s, without digits), shuffled with seed 9191 and picked in that order, skipping
ones with nothing to paraphrase or translate (names, lists, fragments). Mandarin: only 18 utterances
are unused, most of them place names, song commands and digit strings. So the Mandarin paraphrases
go to 5 unused names and commands (the short-command case, where the encoders are weakest) and then
to utterances that were never the target of a *paraphrase* before (earlier only of a translation,
verbatim or homophone query); the translations into English go to utterances never the target of a
translation before. Two unused digit strings get a verbatim query written in the other writing
(Arabic digits for spoken Chinese numerals), tagged ``kind: digits``.
Hand-written from the reference text only: paraphrases sharing at most one content word with the
target, translations, and 20 no-answer questions — near-topic (the library's themes: the novels'
wilderness and characters, printing history, property market, sport, gadgets; each checked against
the reference texts to be unsaid, see ``check_unsaid``) and off-topic, in both languages. Verbatim
fragments and homophone substitutions are cut by the first file's seeded rules from this file's targets
(never one whose utterance had a query of the same kind before).
Before any tuning, 4 no-answer questions first written were replaced: a check of word / character-bigram
overlap against every earlier query found 3 near-duplicates of tune2 no-answer questions (rapids and
supplies, a table-tennis final, an Apple gadget) and one of the same pattern (recommend a podcast about ...);
one homophone query went to an utterance that had a tune homophone query, now skipped.
"""

from __future__ import annotations

import _benchpath  # noqa: F401  (first: keeps bench/inspect.py from shadowing the stdlib)

import argparse
import json
import random
import sys
from pathlib import Path

from make_search_queries import OUT as FIRST, homophone_zh, verbatim_en, verbatim_zh, write_split  # noqa: E402
from make_search_queries_report2 import OUT as THIRD  # noqa: E402
from make_search_queries_tune2 import OUT as SECOND  # noqa: E402
from search_library import build_episodes  # noqa: E402

OUT = Path(__file__).resolve().parent / "data" / "search" / "queries-report3.jsonl"
SEED = 6161

EN_PARAPHRASE = {  # English speech, English query
    "cathy/audio/arctic_a0560.flac": "he parted his jaw but could not get any speech out",
    "dev/en/dataset-voice-cathy/arctic_a0016_1592748209.wav": "the sleeping outpost lies just a gunshot past the hilltop",
    "dev/en/dataset-voice-cathy/arctic_b0019_1592700940.wav": "with thin fingers he clutched the desk's rim",
    "cathy/audio/arctic_a0149.flac": "briefly Pierre appeared as a dark outline on the horizon",
    "cathy/audio/arctic_a0358.flac": "they bravely kept telling falsehoods, yet reality stayed ahead of them",
    "cathy/audio/arctic_a0546.flac": "I tripped and fell face first into the mud",
    "cathy/audio/arctic_b0488.flac": "apart from not letting us buy provisions, they did not bother us",
    "dev/en/openai_whisper/jfk.wav": "don't wonder what the nation offers you but what you might give back to it",
    "dev/en/dataset-voice-cathy/arctic_b0030_1592700735.wav": "Gregson kept the small flame between his fingers until it seared them",
    "dev/en/dataset-voice-cathy/arctic_b0031_1592700701.wav": "he sat below the light whittling the tip of his pencil",
    "dev/en/DeepSpeech/LDC93S1.wav": "your black outfit sat in oily laundry liquid for twelve months",
    "dev/en/dataset-voice-cathy/arctic_a0012_1592748339.wav": "Gregson pushed away from his seat and stood up",
    "dev/en/dataset-voice-cathy/arctic_a0053_1592747272.wav": "all at once he clenched the hanky in his grip",
    "cathy/audio/arctic_a0154.flac": "a clean-chinned man with dark locks and dark irises",
    "cathy/audio/arctic_b0106.flac": "for sixty seconds the pair looked at one another without a word",
    "dev/en/dataset-voice-cathy/arctic_b0013_1592701044.wav": "countless ponds and streams everywhere",
    "dev/en/dataset-voice-cathy/arctic_a0006_1592748435.wav": "heaven keep them, may I keep watching them always",
    "cathy/audio/arctic_b0155.flac": "he tossed the newly trapped pelts down on the ground",
    "cathy/audio/arctic_b0158.flac": "she did as told, cowering away while holding her infant",
    "cathy/audio/arctic_a0088.flac": "he checked the rifle had cartridges in it and began rowing again",
}
EN_CROSS = {  # English speech, Mandarin query
    "cathy/audio/arctic_a0069.flac": "他打算回到艾琳和她父亲身边",
    "cathy/audio/arctic_a0359.flac": "淘金盘里似乎装满了泥土和砂砾",
    "cathy/audio/arctic_a0406.flac": "那就是弗朗索瓦和佩罗最后一次出现",
    "cathy/audio/arctic_b0125.flac": "菲利普已经是第三四次听到麦克杜格尔骂人了",
    "cathy/audio/arctic_b0114.flac": "他挪了一下位置，幻觉就消失了",
    "cathy/audio/arctic_b0298.flac": "他猛地伸手掐住了瘸腿的脖子",
    "cathy/audio/arctic_b0365.flac": "我今年二十二岁",
    "dev/en/dataset-voice-cathy/arctic_a0041_1592747603.wav": "这段时间我出去透透气",
    "dev/en/pyannote_sample/segments/sample_12_Diane.wav": "哦，现在在新泽西我听不到那种说法了",
    "cathy/audio/arctic_b0534.flac": "图书管理员脸上一亮，说我来告诉你",
}
ZH_PARAPHRASE = {  # Mandarin speech, Mandarin query
    # never targeted before: names and short commands
    "dev/zh/aishell-sample/BAC009S0150W0041.wav": "给我放那首叫剑心的曲子",
    "dev/zh/aishell-sample/BAC009S0252W0081.wav": "帮我启动那个叫中国味道的节目",
    "dev/zh/aishell-sample/BAC009S0150W0021.wav": "一家叫三叶的配镜商场",
    "dev/zh/aishell-sample/BAC009S0252W0011.wav": "城隍庙那边卖数码产品的商场",
    "dev/zh/aishell-sample/BAC009S0150W0011.wav": "尚街那个潮流创意产业园",
    # never the target of a paraphrase before
    "dev/zh/CosyVoice/zero_shot_prompt.wav": "盼你将来胜过我",
    "dev/zh/aishell-sample/BAC009S0150W0241.wav": "楼市管控办法执行走样的",
    "dev/zh/aishell-sample/BAC009S0150W0251.wav": "会认真执行房地产管控措施",
    "dev/zh/aishell-sample/BAC009S0150W0281.wav": "三星在今年春天宣布了自家的移动支付",
    "dev/zh/aishell-sample/BAC009S0150W0291.wav": "韩国品牌新推出的智能腕表将自带移动支付",
    "dev/zh/aishell-sample/BAC009S0252W0111.wav": "超能力少女小田雾响子撒的谎",
    "dev/zh/aishell-sample/BAC009S0252W0121.wav": "改为推动卖房和拉动楼盘建设投入",
    "dev/zh/aishell-sample/BAC009S0252W0161.wav": "最近好几个地产开发商公布了2014年度的财务报告",
    "dev/zh/aishell-sample/BAC009S0252W0411.wav": "不过这二人也表示将要离开",
    "dev/zh/FireRedASR/BAC009S0764W0121.wav": "买卖差不多完全停摆",
    "dev/zh/S3Tokenizer/BAC009S0764W0122.wav": "大城市尽管同样在经历回调",
    "dev/zh/aishell-sample/BAC009S0150W0121.wav": "里面两项衡量标准属于内部原因",
    "dev/zh/aishell-sample/BAC009S0150W0151.wav": "这些人够不够多，能不能撑住到时候的楼价",
    "dev/zh/aishell-sample/BAC009S0150W0431.wav": "管理处将西侧出入口封住了",
    "dev/zh/aishell-sample/BAC009S0150W0471.wav": "其实是在寻找跑丢的小狗",
}
ZH_CROSS = {  # Mandarin speech, English query (never the target of a translation before)
    "dev/zh/aishell-sample/BAC009S0150W0201.wav": "pilot it on a small scale in some local areas",
    "dev/zh/aishell-sample/BAC009S0150W0311.wav": "car makers still have a wealth of manufacturing experience",
    "dev/zh/aishell-sample/BAC009S0150W0391.wav": "reflect the opinions of the citizens as fully as possible",
    "dev/zh/aishell-sample/BAC009S0150W0411.wav": "it was as if you could see a globe turning",
    "dev/zh/aishell-sample/BAC009S0150W0441.wav": "a woman who paid a worker's rent raised suspicion and was stabbed to death by her husband",
    "dev/zh/aishell-sample/BAC009S0252W0131.wav": "the financial system also seems to be putting more money into real estate",
    "dev/zh/aishell-sample/BAC009S0252W0271.wav": "held back by how tiny wearable devices are",
    "dev/zh/aishell-sample/BAC009S0252W0311.wav": "because we use the same process, equipment, technology and materials",
    "dev/zh/aishell-sample/BAC009S0252W0381.wav": "but its overall influence on society is still not enough",
    "dev/zh/aishell-sample/BAC009S0252W0491.wav": "when the tow truck arrived it could no longer get onto the main road",
}
ZH_DIGITS = {  # Mandarin speech of a digit string; the query in Arabic digits
    "dev/zh/aishell-sample/BAC009S0252W0091.wav": "38994521",
    "dev/zh/aishell-sample/BAC009S0252W0101.wav": "22240320",
}
EN_NOANSWER_NEAR = [
    "the prospector found a silver vein in the hills",
    "the Mountie arrested the fur thief at the trading fort",
    "the bishop blessed the new printing press in the cathedral",
    "the factory workers went on strike for higher wages",
    "a grizzly bear raided the camp and ate the bacon",
]
EN_NOANSWER_OFF = [
    "how do I renew my passport", "best running shoes for flat feet", "convert fifty euros to dollars",
    "what time does the pharmacy close", "which telescope should a beginner buy",
]
ZH_NOANSWER_NEAR = [
    "房产税明年开始在全国征收", "新能源汽车补贴政策退坡", "中国女排在世锦赛上夺冠", "小米推出了新款扫地机器人",
    "交警查处酒后驾驶",
]
ZH_NOANSWER_OFF = [
    "帮我订一张去上海的高铁票", "牙疼应该挂哪个科", "今晚有什么好看的电影", "怎么煮出好吃的米饭", "提醒我下午三点开会",
]
UNSAID = {  # words of each near-topic question that the reference texts must not contain (check_unsaid)
    "en": ["prospector", "silver", "mountie", "thief", "bishop", "cathedral", "on strike", "wages",
           "grizzly", "bacon"],
    "zh": ["房产税", "征收", "新能源", "补贴", "女排", "世锦赛", "小米", "机器人", "交警", "酒后", "驾驶"],
}


def check_unsaid(utts: dict) -> None:
    """Every near-topic question's key words are absent from the library's reference texts."""
    for lang, words in UNSAID.items():
        texts = [u["text"].lower() for u in utts.values() if u["lang"] == lang]
        for w in words:
            said = [t for t in texts if w in t]
            if said:
                raise SystemExit(f"near-topic word {w!r} is said in the library: {said[:2]}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args()
    if OUT.exists() and not args.force:
        sys.exit(f"{OUT} exists and is frozen; --force rebuilds it (only before any tuning).")
    from pypinyin import Style, lazy_pinyin

    eps = build_episodes()
    utts = {u["id"]: u for e in eps for u in e["utterances"]}
    check_unsaid(utts)
    earlier = [json.loads(line) for path in (FIRST, SECOND, THIRD) for line in open(path, encoding="utf-8")]
    earlier_ids = {q["id"] for q in earlier}
    earlier_queries = {q["query"] for q in earlier}
    targeted = {}
    for q in earlier:
        targeted.setdefault(q["target"], set()).add(q["category"])
    for tid in EN_PARAPHRASE | EN_CROSS:
        assert tid not in targeted, tid
    for tid in ZH_PARAPHRASE:
        assert "paraphrase" not in targeted.get(tid, ()), tid
    for tid in ZH_CROSS:
        assert "crosslingual" not in targeted.get(tid, ()), tid
    assert not set(ZH_PARAPHRASE) & set(ZH_CROSS) and not set(EN_PARAPHRASE) & set(EN_CROSS)
    rows = []

    def add(cat, lang, query, target, kind=None):
        t = utts[target] if target else None
        assert query not in earlier_queries, query
        rows.append({"category": cat, "query_lang": lang, "query": query,
                     "target": t["id"] if t else None, "target_lang": t["lang"] if t else None,
                     "target_text": t["text"] if t else None, **({"kind": kind} if kind else {})})

    for tid, q in EN_PARAPHRASE.items():
        add("paraphrase", "en", q, tid)
    for i, (tid, q) in enumerate(ZH_PARAPHRASE.items()):
        add("paraphrase", "zh", q, tid, "short" if i < 5 else None)
    for tid, q in EN_CROSS.items():
        add("crosslingual", "zh", q, tid)
    for tid, q in ZH_CROSS.items():
        add("crosslingual", "en", q, tid)
    rng = random.Random(SEED)
    for tid in list(EN_PARAPHRASE)[:5] + list(EN_CROSS)[:5]:
        add("verbatim", "en", verbatim_en(utts[tid], rng), tid)
    for tid in list(ZH_PARAPHRASE)[5:10] + list(ZH_CROSS)[:5]:
        assert "verbatim" not in targeted.get(tid, ()), tid
        add("verbatim", "zh", verbatim_zh(utts[tid], rng), tid)
    for tid, q in ZH_DIGITS.items():
        add("verbatim", "zh", q, tid, "digits")
    pool = {c for u in utts.values() if u["lang"] == "zh" for c in u["text"] if "\u4e00" <= c <= "\u9fff"}
    by_pinyin: dict[str, set] = {}
    for c in pool:
        by_pinyin.setdefault(lazy_pinyin(c, style=Style.NORMAL)[0], set()).add(c)
    homs = 0
    for tid in list(ZH_PARAPHRASE)[10:] + list(ZH_CROSS)[5:] + list(ZH_PARAPHRASE)[5:10]:
        if homs == 10:
            break
        if "homophone" in targeted.get(tid, ()):  # never a homophone query of the same utterance again
            continue
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
    write_split(rows, OUT, "report3", "r3", earlier_ids)


if __name__ == "__main__":
    main()
