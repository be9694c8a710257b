"""Write bench/data/search/queries-tune2.jsonl ONCE: a second, larger tune set, frozen before tuning.

    python bench/make_search_queries_tune2.py      # refuses to overwrite the frozen file (--force rebuilds)

Why: the first file's tune split has 20 no-answer questions and 40 paraphrase/translation queries,
too few to choose a threshold or a ranking change on. This set follows the same rules as
bench/make_search_queries.py and is used only for tuning (split ``tune2``); the ``report`` split of
the first file stays untouched.

Targets: library utterances (bench/search_library.py) that no query of the first file targets,
shuffled with seed 2424 (English: >= 7 words; Mandarin: >= 10 characters, then — there are few
unused ones — utterances that the first file used only for verbatim or homophone queries). Skipped
by rule: utterances longer than 15 s (a multi-sentence phone call), digit strings, song titles and
bare place names (nothing to paraphrase). Hand-written, from the reference text only:
paraphrases sharing at most one content word with the target, translations (a Mandarin query for
English speech and the reverse), and no-answer questions — near-topic (the library's themes:
frontier fiction, printing history, property markets, finance, sport, gadgets, local news; each
checked against the reference texts to be unsaid) and off-topic (everyday requests), in both
languages. Verbatim fragments and homophone substitutions are cut by the first file's seeded rules
from the new targets.
"""

from __future__ import annotations

import _benchpath  # noqa: F401  (first: keeps bench/inspect.py from shadowing the stdlib)

import argparse
import json
import random
import sys
from pathlib import Path

from make_search_queries import OUT as FIRST, homophone_zh, verbatim_en, verbatim_zh, write_split  # noqa: E402
from search_library import build_episodes  # noqa: E402

OUT = Path(__file__).resolve().parent / "data" / "search" / "queries-tune2.jsonl"
SEED = 2424

EN_PARAPHRASE = {  # English speech, English query
    "dev/en/coqui-ai_TTS_ljspeech/LJ001-0011.wav": "the typeface chosen must above all have a beautiful shape",
    "dev/en/coqui-ai_TTS_ljspeech/LJ001-0030.wav": "within a short time the Latin typeface appeared across Italy, the German lands and the French kingdom",
    "cathy/audio/arctic_a0549.flac": "are you aware we measure the mass of all the fuel we use for heating",
    "dev/en/audiomentations/p286_011.wav": "people say someone chasing the impossible is after a treasure where the arc of colours touches the ground",
    "cathy/audio/arctic_b0296.flac": "occasionally I asked myself how the knight acquired his elegance",
    "cathy/audio/arctic_a0127.flac": "he was lured, yet did not give in",
    "cathy/audio/arctic_b0101.flac": "you love a brawl and you're certain to come out on top",
    "dev/en/dataset-voice-cathy/arctic_a0045_1592747525.wav": "he left just as silently as he arrived",
    "dev/en/dataset-voice-cathy/arctic_a0008_1592748408.wav": "goodness, your message reached me at the last moment",
    "cathy/audio/arctic_b0321.flac": "he got there after dark on day two rather than earlier",
    "dev/en/dataset-voice-cathy/arctic_a0020_1592748103.wav": "social gatherings, dances and urban life became things of the past",
    "cathy/audio/arctic_b0455.flac": "he deserved tranquillity and rest as his prize",
    "cathy/audio/arctic_b0492.flac": "so he used the principles and terminology of the mind sciences against me",
    "cathy/audio/arctic_a0074.flac": "Eileen stood below expecting his arrival",
    "cathy/audio/arctic_b0506.flac": "it would keep me going until I found a regular job",
    "cathy/audio/arctic_b0386.flac": "I thought he could sway the local people better",
    "dev/en/faster-whisper/stereo_diarization_ch0.wav": "he started grumbling muddledly about the magician who had disappeared behind the left drape",
    "dev/en/dataset-voice-cathy/arctic_a0037_1592747743.wav": "everybody else stood up except me",
    "dev/en/coqui-ai_TTS_ljspeech/LJ001-0005.wav": "typography truly began when reusable type cast in lead appeared around 1450",
    "cathy/audio/arctic_b0501.flac": "everywhere I wandered, the path was soaked in booze",
}
EN_CROSS = {  # English speech, Mandarin query
    "cathy/audio/arctic_a0372.flac": "他只是大致粗略地看到了效果",
    "cathy/audio/arctic_a0571.flac": "他忘了生火取暖解冻",
    "dev/en/dataset-voice-cathy/arctic_b0028_1592700765.wav": "菲茨休勋爵是整个局面的关键",
    "cathy/audio/arctic_a0364.flac": "我们自己资金充足，却还想要更多",
    "cathy/audio/arctic_b0367.flac": "任何一个普通的年轻人一周就能自学会",
    "cathy/audio/arctic_a0377.flac": "这声音没有打破这个地方的寂静与庄严",
    "cathy/audio/arctic_a0521.flac": "没有他们，他就无法管理他的帝国",
    "cathy/audio/arctic_b0171.flac": "他换了座位，坐到一把轮船上的躺椅上",
    "cathy/audio/arctic_a0509.flac": "然而按照欧内斯特检验真理的标准，它奏效了",
    "cathy/audio/arctic_b0144.flac": "但他心里已经没有了那种母性的渴望",
    "dev/en/pocketsphinx/librivox_0930.wav": "他自己甚至也可能变得和蔼可亲",
    "cathy/audio/arctic_a0446.flac": "他用一大堆论据把我淹没了",
    "cathy/audio/arctic_b0302.flac": "我突然用尽全力一拉",
    "cathy/audio/arctic_a0540.flac": "是的，如今所有低等动物也都是干净的",
    "dev/en/dataset-voice-cathy/arctic_b0024_1592700869.wav": "它每天每小时都在增长",
    "dev/en/dataset-voice-cathy/arctic_a0060_1592747155.wav": "反正没有人见过她那个样子",
    "cathy/audio/arctic_a0417.flac": "这也是一个阴险而具有欺骗性的太阳",
    "dev/en/dataset-voice-cathy/arctic_b0010_1592701092.wav": "他把地图转向格雷格森，用手指指着",
    "cathy/audio/arctic_b0165.flac": "他一拉，木头砸下来压断了他的脊背",
    "cathy/audio/arctic_a0430.flac": "尽管如此，我们又一次过上了富足的生活",
}
ZH_PARAPHRASE = {  # Mandarin speech, Mandarin query
    "dev/zh/aishell-sample/BAC009S0150W0451.wav": "荣昌有个男人做了件亏本的蠢事",
    "dev/zh/aishell-sample/BAC009S0150W0161.wav": "看一看我国出生人数的走势图就能看出",
    "dev/zh/aishell-sample/BAC009S0252W0231.wav": "证券监管机构相关司局的主管说",
    "dev/zh/aishell-sample/BAC009S0252W0181.wav": "大家普遍认为楼市会变热",
    "dev/zh/aishell-sample/BAC009S0150W0381.wav": "更加激起了日本网民的猛烈抨击",
    "dev/zh/aishell-sample/BAC009S0252W0261.wav": "等到立体打印不再让人觉得玄妙之时",
    "dev/zh/aishell-sample/BAC009S0252W0301.wav": "可以高效同时运行好几个程序的穿戴式智能产品",
    "dev/zh/aishell-sample/BAC009S0252W0471.wav": "始终未曾给住房管理机关提出过请求",
    "dev/zh/aishell-sample/BAC009S0252W0391.wav": "中国男乒主力在四强赛里遇上了德国头号选手",
    "dev/zh/aishell-sample/BAC009S0252W0461.wav": "路上的人们赶上了一场晴天里的阵雨",
    "dev/zh/aishell-sample/BAC009S0150W0301.wav": "新建的厂房会创造不少于十五万份工作岗位",
    "dev/zh/aishell-sample/BAC009S0150W0491.wav": "硬是把遗体放在了酒馆里面",
    "dev/zh/aishell-sample/BAC009S0252W0221.wav": "第三点是落实简化政府许可流程的改革要求",
    "dev/zh/aishell-sample/BAC009S0252W0151.wav": "盘点七天以来楼市领域的重要消息",
    "dev/zh/FireRedASR/TEST_NET_Y0000000000_-KTKHdZ2fb8_S00000.wav": "你们明白吗，我偶尔讲不明白",
    "dev/zh/aishell-sample/BAC009S0252W0401.wav": "第二次捧起了男单世界杯的金杯",
    "dev/zh/aishell-sample/BAC009S0150W0321.wav": "电力驱动的汽车不过是诸多办法之一",
    "dev/zh/aishell-sample/BAC009S0150W0261.wav": "这家韩国企业的代表处已经搬走了",
}
ZH_CROSS = {  # Mandarin speech, English query
    "dev/zh/aishell-sample/BAC009S0252W0281.wav": "only responsible for gathering and sending the data",
    "dev/zh/aishell-sample/BAC009S0252W0201.wav": "as authorised and required by the new fund law",
    "dev/zh/aishell-sample/BAC009S0252W0031.wav": "the Wenxuan Southwest Book City of the Sichuan Xinhua Bookstore Group",
    "dev/zh/aishell-sample/BAC009S0252W0451.wav": "the two injured were a newly married international couple",
    "dev/zh/aishell-sample/BAC009S0252W0441.wav": "the French husband lit three incense sticks for his wife at the scene in Sanlitun",
    "dev/zh/aishell-sample/BAC009S0150W0151.wav": "but will there still be enough of them to support house prices then",
    "dev/zh/aishell-sample/BAC009S0252W0141.wav": "last week twenty projects went on sale in the major cities",
    "dev/zh/aishell-sample/BAC009S0252W0481.wav": "a black car caught fire by itself in the innermost lane of the inner ring road on Huawei Bridge",
    "dev/zh/S3Tokenizer/BAC009S0764W0122.wav": "although first and second tier cities are also adjusting",
    "dev/zh/aishell-sample/BAC009S0150W0401.wav": "so Ota city had to decide to stop using the logo",
    "dev/zh/aishell-sample/BAC009S0252W0241.wav": "the industry's risk reserve system needs overall planning at the right time",
    "dev/zh/aishell-sample/BAC009S0150W0431.wav": "the property management company locked the west gate",
    "dev/zh/aishell-sample/BAC009S0150W0131.wav": "some economies fell not because of their own problems",
    "dev/zh/aishell-sample/BAC009S0150W0121.wav": "two of them are indicators of internal causes",
    "dev/zh/aishell-sample/BAC009S0252W0371.wav": "getting more children to take part",
    "dev/zh/aishell-sample/BAC009S0150W0471.wav": "but was tracking a lost pet dog",
    "dev/zh/aishell-sample/BAC009S0252W0431.wav": "after the incident the man stayed in the square and did not flee",
    "dev/zh/aishell-sample/BAC009S0150W0221.wav": "such a reform of new share issues does not amount to institutional reform",
}
EN_NOANSWER_NEAR = [
    "the ship's captain ordered the crew to lower the lifeboats",
    "she baked bread for the miners in the mountain camp",
    "the telegraph operator sent a message to the fort",
    "a grizzly bear attacked the trapper near the river",
    "the typesetter spilled ink all over the manuscript",
    "Philip's sister married a banker in Montreal",
    "the caller from Ohio talked about her new job at the hospital",
    "the professor explained the theory of evolution to his students",
    "the canoe overturned in the rapids and they lost their supplies",
    "the gold miners quarrelled over a claim by the creek",
    "the old sailor told stories about whales at sea",
    "the doctor prescribed quinine for the fever",
    "a snowstorm trapped the travellers in the cabin for a week",
    "the engine of the steamer broke down on the lake",
    "they hunted caribou to survive the winter",
]
EN_NOANSWER_OFF = [
    "how many calories are in a banana smoothie", "set an alarm for six thirty tomorrow morning",
    "the basketball playoffs start next Tuesday", "where can I charge my electric scooter",
    "best hiking trails near the national park", "my package was delivered to the wrong address",
    "how to unclog a kitchen sink", "the new tax rules for freelancers",
    "recommend a podcast about ancient history", "our wedding anniversary dinner reservation",
    "the subway line is closed for maintenance this weekend", "how do I change the language on my television",
    "the pharmacy opening hours on Sunday", "tips for learning to play the guitar",
    "the hotel room air conditioner is broken",
]
ZH_NOANSWER_NEAR = [
    "央行宣布下调存款准备金率", "上海二手房成交量创下新高", "乒乓球女单决赛在东京举行", "苹果公司发布了新款智能手表",
    "高铁票价从下个月起上涨", "警方破获一起网络诈骗案", "开发商因拖欠工程款被起诉", "股市今天大幅上涨沪指站上三千点",
    "无人驾驶汽车在北京上路测试", "物业费每平方米上调五毛钱", "保险公司推出新的养老产品", "足球队主教练被解雇",
    "手机支付在农村地区普及", "学区房价格持续走高", "日本首相访问中国",
]
ZH_NOANSWER_OFF = [
    "今晚八点提醒我给妈妈打电话", "附近有没有好吃的川菜馆", "怎么清洗洗衣机的滤网", "周末带孩子去哪里玩",
    "我的快递三天了还没到", "感冒了应该吃什么药", "小区游泳池几点开门", "怎样学好英语口语",
    "西湖十景是哪十个", "家里的水管漏水了", "推荐几本好看的科幻小说", "狗狗打疫苗要注意什么",
    "明年的年假怎么安排", "空调遥控器找不到了", "如何给手机换电池",
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
    first = [json.loads(line) for line in open(FIRST, encoding="utf-8")]
    first_ids = {q["id"] for q in first}
    rows = []

    def add(cat, lang, query, target, kind=None):
        t = utts[target] if target else None
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
    for tid in list(ZH_PARAPHRASE)[5:] + list(ZH_CROSS)[5:]:
        if homs == 10:
            break
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
    write_split(rows, OUT, "tune2", "t2", first_ids)

if __name__ == "__main__":
    main()
