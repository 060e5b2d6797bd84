"""The prompt filter's intents: what a prompt asks to do with the names in it.

:func:`find_intents` runs English and Chinese patterns over the folded prompt (separators as
spaces): *imitate* (``in the style of``, ``mimic``, ``pretend you are``, ``模仿``, ``临摹``), *reproduce*
(``lyrics of``, ``verbatim``, ``chapter 1 of``, ``原文``, ``歌词``), *continue* (``continue``, ``what comes
next``, ``a sequel to``, ``续写``, ``接着写``), *depict* (``draw``, ``a picture of``, ``a story about``, ``画``,
``生成…图片``), *circumvent* (``ignore previous instructions``, ``绕过``) and *discuss* (``summarise``, ``who
wrote``, ``讲了什么``, ``作者是谁``). An intent is about the names near it on the side its pattern reaches (``in
the style of X``: after it; ``X verbatim``: before; most Chinese patterns: either side or around the name,
``生成一张X的图片``), with no clause break or new clause (``and``, ``about``, ``然后``) between: ``summarise X
in the style of a pirate`` asks a pirate's style, not X's. *Attached* patterns (``style``, ``风格``) count only
right after a name (``Potter-style``, ``孙悟空的风格``). A *weak* intent (``chapter 3 of``, ``the lyrics of``,
``sounds like``, ``a sequel to``, ``a picture of``, ``第三章``) is how questions name things as often as requests
do: a discuss intent in its sentence cancels it (``what happens in chapter 3 of X`` is a question, ``print chapter
3 of X`` a request).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any

import ahocorasick

from copyalign.core.guard.folding import Folded, byte_chars, bytewise, prepare


class IntentKind(StrEnum):
    IMITATE = "imitate"
    REPRODUCE = "reproduce"
    CONTINUE = "continue"
    DEPICT = "depict"
    CIRCUMVENT = "circumvent"
    DISCUSS = "discuss"


class Reach(StrEnum):
    """Where the name an intent governs may stand: after it (``in the style of X``), before it (``X verbatim``),
    either side (most Chinese patterns: ``复制X``, ``X的全文``), or right after the name (``X-style``)."""

    AFTER = "after"
    BEFORE = "before"
    BOTH = "both"
    ATTACHED = "attached"


@dataclass(frozen=True, slots=True)
class IntentHit:
    """An intent pattern found in a prompt (span in the original prompt).

    ``reach`` says where a name it governs may stand. A ``weak`` intent is a phrase that a question or a
    commentary uses as often as a request (``chapter 3 of``, ``sounds like``, ``a sequel to``, ``a picture
    of``): a *discuss* intent in the prompt (``summarise``, ``who wrote``, ``讲了什么``) cancels it.
    """

    kind: IntentKind
    pattern: str
    start: int
    end: int
    attached: bool = False
    weak: bool = False
    reach: Reach = Reach.BOTH


def _alt(words: str) -> str:
    """``"a|b c"`` as the regex group ``(?:a|b c)``: the tables below read as word lists."""
    return f"(?:{words})"


_WORK = _alt(
    "text|lyrics|words|script|screenplay|transcript|poem|song|chapters?|book|novel|story|scene|passage|pages?"
    "|verses?|dialogue"
)
_TEXT = _alt("text|lyrics|words|script|screenplay|transcript|chapters?|poem|song|passage|dialogue|pages?|verses?")
_SHOW = _alt("give|show|print|type|write|output|paste|post|send|list|provide|tell|recite|dump|display|spit")
_NUM = _alt(r"\d+|one|two|three|four|five|six|seven|eight|nine|ten|first|second|third|last|final|opening|[ivx]+")
_COUNT = _alt(r"\d+|one|two|three|four|five|six|seven|eight|nine|ten|first|second|third|last|final|opening")
_CN_NUM = "[一二三四五六七八九十百零\\d]+"
_VISUAL = _alt(
    "images?|pictures?|photos?|pics?|portraits?|drawings?|paintings?|illustrations?|artworks?|fan ?art|art"
    "|stickers?|posters?|cards?|wallpapers?|avatars?|icons?|emojis?|figurines?|figures?|statues?|sculptures?"
    "|3d models?|cartoons?|comics?|memes?|gifs?|logos?|tattoos?|murals?|t ?shirts?|mugs?|plush(?:ies)?|toys?"
    "|renders?|sketch(?:es)?|doodles?|prints?|covers?"
)
_NARRATIVE = _alt(
    "stor(?:y|ies)|tales?|poems?|comics?|scenes?|episodes?|adventures?|limericks?|haikus?|sonnets?|songs?"
    "|screenplays?|scripts?|fanfics?|fables?|sagas?"
)
_FILTER = _alt(
    "filters?|filtering|guard|guardrails?|restrictions?|moderation|detection|censors?|censorship|checks?|blocks?"
)
_RULES = _alt("instructions|rules|prompts?|guidelines|restrictions|filters?|policies|policy")
_I, _R, _N, _D, _C, _T = (IntentKind.IMITATE, IntentKind.REPRODUCE, IntentKind.CONTINUE, IntentKind.DEPICT,
                          IntentKind.CIRCUMVENT, IntentKind.DISCUSS)  # fmt: skip

# (kind, label, triggers, regex, flags). The regexes read the folded prompt: lower case, simplified Chinese,
# every run of separators one space (so "don't" reads "don t"). Every match contains one of its pattern's
# triggers: one automaton pass over the triggers tells which regexes can match at all, and, for a pattern
# flagged ``^`` (every match *starts* with one of its triggers), where: the regex is then tried only there, not
# scanned over the whole prompt (a word list such as the discuss pattern's has no literal prefix for ``re`` to
# search fast). Flags: ``>`` the name comes after the intent, ``<`` before it (default: either side), ``a`` right
# after the name, ``w`` weak, ``^`` anchored at a trigger.
_PATTERNS: tuple[tuple[IntentKind, str, tuple[str, ...], str, str], ...] = (
    # imitate: the style, voice or look of a work, character or creator
    (_I, "in the style of", ("in the",),
     r"\bin the (?:\w+ ){0,2}?(?:style|manner|voice|tone|spirit|vein|tradition) of\b", "^>"),
    (_I, "in the same style as", ("in the same",), r"\bin the same (?:\w+ )?(?:style|way|manner|voice) as\b", "^>"),
    (_I, "as written by", ("as ",),
     r"\bas (?:if )?(?:it )?(?:was |were )?(?:written|drawn|painted|told|sung|composed|directed|designed) by\b", "^>"),  # noqa: E501
    (_I, "imitate", ("imitat", "mimic", "emulat", "pastiche", "knock", "rip"),
     r"\b(?:imitat(?:e|es|ed|ing|ions?)|mimic(?:s|ked|king)?|emulat(?:e|es|ed|ing)|pastiches?|knock ?offs?"
     r"|rip ?offs?)(?: of)?\b", "^>"),
    (_I, "fan fiction", ("fanfic", "fan fic"),
     r"\bfan ?fic(?:tion|tions|s)?(?: (?:about|of|for|with|featuring|starring|where|in which))?\b", "^"),
    (_I, "make it look like", ("make",),
     r"\bmake (?:it|this|that|me|him|her|them|us|my \w+|the \w+|a \w+|our \w+) (?:look|sound|read|feel) "
     r"(?:exactly |just )?like\b", "^>"),
    (_I, "write like", ("write", "draw", "paint", "sing", "compose", "talk", "speak", "rap", "dress"),
     r"\b(?:write|draw|paint|sing|compose|talk|speak|rap|dress)s? (?:exactly |just )?like\b", "^>"),
    (_I, "sounds like", ("sound", "look", "read", "feel"),
     r"\b(?:sound|look|read|feel)s? (?:exactly |just )?like\b", "^>w"),
    (_I, "style like", ("style",), r"\bstyle (?:like|similar to|reminiscent of)\b", "^>"),
    (_I, "inspired by", ("reminiscent", "inspired"), r"\breminiscent of\b|\binspired by\b", "^>w"),
    (_I, "the way X would", ("the way",),
     r"\bthe way\b(?= (?:[\w ]{1,40}?) (?:would|does|did|used to) (?:paint|write|draw|sing|do|tell|say|compose"
     r"|describe|put|have|make)\b)", "^>"),
    (_I, "could pass as", ("could pass", "would pass", "might pass", "can pass"),
     r"\b(?:could|would|might|can) pass (?:as|for)\b", "^>"),
    (_I, "role play as", ("pretend", "role", "in character", "impersonat", "respond", "answer", "reply", "speak",
                          "talk", "act", "behave", "write"),
     r"\b(?:pretend (?:to be|you are|you re|that you are)|role ?play(?:ing)? as|in character as|impersonat(?:e|es|ing)"
     r"|(?:respond|answer|reply|speak|talk|act|behave|write)(?: only| just| exactly)? as)\b", "^>"),
    (_I, "style", ("style", "aesthetic", "inspired", "esque"), r"\b(?:style|styled|aesthetic|inspired|esque)\b", "^aw"),
    (_I, "模仿", ("仿", "临摹", "照搬", "山寨"), "模仿|仿照|仿写|仿作|仿造|临摹|效仿|照搬|山寨", ""),
    (_I, "同人", ("同人",), "同人", ""),
    (_I, "照着…画", ("照着",), "照着.{1,20}?(?:画|写|做|绘|描)", ""),
    (_I, "风格像", ("风格", "的"),
     "风格(?:像|类似|模仿|仿)|(?:以|用|照|按照|依照).{1,20}?的(?:口吻|笔触|笔法|文风|画风|风格|语气|腔调|方式|身份|样子)",
     ""),
    (_I, "像…写的", ("像",), "像(?=.{1,20}?(?:写的|画的|说的|唱的|那样|一样|风格))", ">w"),
    (_I, "扮演", ("扮演", "假装", "cos"), "扮演|假装(?:你是|自己是|成)|cos(?:play)?成?", ">"),
    (_I, "风格", ("风格", "画风", "文风", "笔触", "口吻", "笔风"), "风格|画风|文风|笔触|口吻|笔风", "aw"),
    # reproduce: the text itself
    (_R, "reproduce", ("reproduc",), r"\breproduc(?:e|es|ed|ing|tion)\b", "^"),
    (_R, "copy", ("cop",),
     rf"\bcop(?:y|ying|ied)(?<!a copy)(?<!my copy)(?<!the copy)(?<!your copy) (?!of\b)|\bcopy {_WORK}", "^"),
    (_R, "verbatim", ("verbatim", "word", "exact"),
     r"\bverbatim\b|\bword (?:for|by) word\b|\bexact (?:words|text|wording|lyrics)\b"
     r"|\bexactly as (?:written|printed|in the book|it appears)\b", "^"),
    (_R, "recite", ("recit", "transcri"), r"\brecit(?:e|es|ing|ation)\b|\btranscri(?:be|bes|bing|pt of)\b", "^"),
    (_R, "lyrics of", ("lyrics", "words"), r"\b(?:lyrics|words) (?:of|to|from|for)\b", "^>w"),
    (_R, "full text of", ("full", "complete", "entire", "whole", "unabridged"),
     rf"\b(?:full|complete|entire|whole|unabridged) (?:\w+ )?{_TEXT}\b|\bunabridged\b", "^"),
    (_R, "the whole story", ("full", "complete", "entire", "whole"),
     r"\b(?:full|complete|entire|whole) (?:story|book|novel|series|saga|album)\b", "^w"),
    (_R, "give me the text", ("give", "show", "print", "type", "write", "output", "paste", "post", "send", "list",
                              "provide", "tell", "recite", "dump", "display", "spit"),
     rf"\b{_SHOW} (?:me |us |out )?(?:all |the |every |each )(?:\w+ )?{_WORK}\b", "^w"),
    (_R, "chapter 1 of", ("chapter", "page", "verse", "stanza", "scene", "act", "episode", "part", "book", "one",
                          "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "first", "second",
                          "third", "last", "final", "opening", "closing", "0", "1", "2", "3", "4", "5", "6", "7",
                          "8", "9"),
     rf"\b(?:chapter|page|verse|stanza|scene|act|episode|part|book) {_NUM} (?:of|from|in)\b"
     rf"|\b{_COUNT} (?:\d+ )?(?:lines|paragraphs|pages|chapters|verses|sentences|stanzas|words) (?:of|from)\b"
     r"|\b(?:opening|first|last|final|closing) (?:\w+ )?(?:lines?|paragraphs?|pages?|chapters?|verses?"
     r"|sentences?|stanzas?|words|scene) (?:of|from|in)\b", "^w"),
    (_R, "pdf", ("pdf", "epub", "mobi", "torrent", "txt", "download"),
     r"\b(?:pdf|epub|mobi|torrent|txt)s?\b|\bdownload(?:s|ed|ing)?\b", "^"),
    (_R, "write it out", ("write", "type", "print", "spell", "read"),
     r"\b(?:write|type|print|spell|read) (?:it |them |this |that )?(?:out|down)\b", "^>w"),  # noqa: E501
    (_R, "lyrics", ("lyrics", "full text", "transcript", "script", "pdf", "epub"),
     r"\b(?:lyrics|full text|transcript|script|pdf|epub)\b", "^aw"),
    (_R, "原文", ("原文", "全文", "复制", "抄", "逐字", "一字", "背诵", "默写", "完整", "打出来", "原封不动"),
     "原文|全文|复制|抄写|照抄|逐字|一字不差|一字不漏|一字一句|背诵|默写|完整(?:版|内容|文本|剧本|台词|歌词)|打出来"
     "|原封不动", ""),
    (_R, "歌词", ("歌词", "台词", "第", "词写"), f"歌词|台词|第{_CN_NUM}[章节回页集幕段]|词写出来", "w"),
    (_R, "下载", ("下载", "txt", "电子书", "pdf", "网盘"), "下载|txt|电子书|pdf|网盘", ""),
    # continue: what comes after a work's (or a pasted passage's) end
    (_N, "continue", ("continu",),
     r"\bcontinu(?:e|es|ing|ation)(?: (?:this|these|the following|from here|from where|where|writing|with|on))?\b",
     "^"),
    (_N, "complete the passage", ("complete", "finish"),
     r"\b(?:complete|finish)(?:s|ed|ing)? (?:this|these|the|my|our|that|the following) (?:\w+ )?(?:text|passage"
     r"|sentence|paragraph|lines?|story|poem|verse|chapter|book|novel|song|lyrics|quote|excerpt|tale|saga|series)\b",
     "^"),
    (_N, "what comes next", ("what comes", "what goes", "write next", "say next", "sing next", "follow",
                             "comes next", "next "),
     r"\bwhat (?:comes|goes) next\b|\b(?:write|say|sing|follows?|comes) next\b"
     r"|\bnext (?:lines?|sentences?|paragraphs?|verses?|words|part|pages?|chapters?|stanzas?)\b", "^"),
    (_N, "alternate ending", ("alternate", "alternative", "new", "different", "another"),
     r"\b(?:alternate|alternative|new|different|another) (?:ending|endings|version of the ending) (?:to|for|of)\b",
     "^>"),
    (_N, "keep writing", ("keep", "carry", "pick up", "go on", "rest of"),
     r"\bkeep (?:going|writing)\b|\bcarry on(?: writing)?\b|\bpick up where\b|\bgo on (?:writing|from)\b"
     r"|\brest of (?:it|this|the (?:text|passage|story|poem|song|chapter|book))\b", "^"),
    (_N, "sequel to", ("sequel", "prequel"), r"\b(?:sequels?|prequels?) (?:to|of|for)\b", "^>w"),
    (_N, "续写", ("续", "接着", "继续", "往下", "接下", "补全", "补完", "下一", "后面", "剩下", "后文"),
     "续写|续上|接着(?:往下)?(?:写|编|讲)|继续(?:写|编|讲)|往下写|接下去|接着往下|补全|补完"
     "|下一(?:句|段|章|节|页|回)|后面(?:的内容|是什么|怎么写|写什么)|接下来(?:的内容|是什么|该写什么|写什么)"
     "|剩下的(?:部分|内容)|后文", ""),
    (_N, "续集", ("续集", "续篇", "后传", "番外"), "续集|续篇|后传|番外", "w"),
    # depict: a picture of a character, or a new story starring it
    (_D, "draw", ("draw", "paint", "sketch", "illustrat", "render", "doodle", "animate", "airbrush", "colo"),
     r"\b(?:draw|draws|drawing|paint|painting|sketch|sketching|illustrate|illustrating|render|rendering|doodle"
     r"|animate|airbrush|colou?r in)\b", "^>"),
    (_D, "make a picture of", ("generate", "create", "make", "design", "produce", "give me", "show me",
                               "send me", "print", "i want", "i need"),
     rf"\b(?:generate|create|make|design|produce|give me|show me|send me|print|i want|i need)(?: me| us)? "
     rf"(?:a |an |some |the |one |two |three |\d+ )?(?:\w+ ){{0,3}}?{_VISUAL}"
     r"(?: (?:of|with|showing|featuring|depicting|starring|for))?\b", "^>"),
    (_D, "a picture of", ("image", "pic", "photo", "portrait", "drawing", "painting", "illustration", "art", "fan",
                          "sticker", "poster", "card", "wallpaper", "avatar", "icon", "emoji", "figur", "statue",
                          "sculpture", "3d", "cartoon", "comic", "meme", "gif", "logo", "tattoo", "mural", "t shirt",
                          "tshirt", "mug", "plush", "toy", "render", "sketch", "doodle", "print", "cover"),
     rf"\b{_VISUAL} (?:of|with|showing|featuring|depicting|starring|where|in which)\b", "^>w"),
    (_D, "fan art", ("fan", "wallpaper", "sticker", "avatar", "emoji", "figurine", "plush", "cosplay", "tattoo",
                     "meme", "pfp", "icon", "portrait", "drawing", "picture", "image", "photo"),
     r"\b(?:fan ?art|wallpapers?|stickers?|avatars?|emojis?|figurines?|plush(?:ies)?|cosplay|tattoos?|memes?|pfp"
     r"|icons?|portraits?|drawings?|pictures?|images?|photos?)\b", "^<w"),
    (_D, "a story about", ("write", "tell", "compose", "create", "make up", "invent", "give"),
     rf"\b(?:write|tell|compose|create|make up|invent|give)(?: me| us)? (?:a |an |one |some |the |another )?"
     rf"(?:\w+ ){{0,2}}?{_NARRATIVE} (?:about|featuring|starring|with|where|in which|of|for)\b", "^>w"),
    (_D, "画", ("画", "绘", "描", "素描", "涂鸦", "速写"),
     "画(?<![漫动油壁版国书字]画)(?![风家面质册廊展作外])|绘制|描绘|手绘|素描|涂鸦|速写", ""),
    (_D, "生成…图片", ("生成", "做", "制作", "设计", "创作", "给我", "来", "发"),
     "(?:生成|做|制作|设计|创作|给我|来|发)(?:一|个|张|幅|套|组|些|款|下)*.{0,30}?(?:图片|图像|照片|插画|插图"
     "|画像|头像|壁纸|海报|表情包|贴纸|手办|贺卡|立绘|漫画|封面|周边|玩偶|形象|图)", "^"),
    (_D, "图片", ("图", "照片", "插画", "画像", "头像", "壁纸", "海报", "表情包", "贴纸", "手办", "立绘", "q版"),
     "图片|图像|照片|插画|插图|画像|头像|壁纸|海报|表情包|贴纸|手办|立绘|同人图|形象图|q版", "w"),
    (_D, "写…故事", ("写", "编", "讲", "创作"),
     "(?:写|编|讲|创作)(?:一|个|篇|首|段|部|则|下)*(?:关于)?.{0,30}?(?:故事|小说|童话|诗|剧本|漫画|段子|冒险)", "^w"),
    # discuss: a question or commentary about what is named (cancels the weak intents)
    (_T, "summarise", ("summar", "synopsis", "recap", "overview", "explain", "explan", "analy", "review", "critic",
                       "recommend", "compar", "discuss", "theme", "mean", "symbol", "interpret", "trivia",
                       "fun fact", "book club", "essay", "cite", "citation", "bibliography", "footnote", "news",
                       "announce", "adaptation", "release date"),
     r"\b(?:summar(?:y|ies|ize|ise|ized|ised|izing|ising)|synopsis|recap|overview|explain(?:s|ed|ing)?"
     r"|explanation|analy[sz](?:e|es|ed|is|ing)|analysis|reviews?|reviewed|reviewing|critique|criticism|critics"
     r"|recommend(?:s|ed|ing|ations?)?|compare|comparison|discuss(?:ion)?|themes?|meaning|means?|symboli[sz]\w*"
     r"|interpret\w*|trivia|fun facts?|book club|essay|cite|citation|bibliography|footnote|news|announce\w*"
     r"|adaptations?|release date)\b", "^"),
    (_T, "who wrote", ("who ", "what ", "how ", "is there", "are there", "when ", "why ", "where does",
                       "tell me about"),
     r"\bwho (?:wrote|writes|sings|sang|composed|directed|illustrated|published|created|designed|voices|played"
     r"|is|was|are)\b|\bwhat (?:is|was|are|were) (?:\w+ ){0,8}?about\b|\bwhat happens\b"
     r"|\bhow (?:does|did) (?:\w+ ){0,8}?end\b|\bis there (?:a|an|any)\b|\bare there\b|\bhow many\b"
     r"|\bwhen (?:was|is|did|does|will)\b|\bwhy (?:is|was|do|does|did|are)\b|\bwhere does\b|\btell me about\b", "^"),
    (_T, "讲了什么", ("讲", "说了", "写了", "意思", "含义", "寓意", "意义", "主题", "概括", "总结", "梗概", "简介",
                      "介绍", "分析", "评", "读后感", "观后感", "推荐", "比较", "哪个", "为什么", "怎么样", "什么样",
                      "谁", "作者", "作曲", "出版", "上映", "改编", "新闻", "消息", "参考文献", "引用", "吗", "多少",
                      "几部", "几章", "什么时候", "哪"),
     "讲了什么|讲的是什么|讲什么|说了什么|写了什么|什么意思|含义|寓意|意义|主题|概括|总结|梗概|简介|介绍|分析"
     "|评价|评论|书评|影评|乐评|读后感|观后感|推荐|比较|哪个(?:更)?好|为什么|怎么样|什么样|是谁|谁写|谁唱|谁画"
     "|作者|作曲|出版|上映|改编|新闻|消息|参考文献|怎么.{0,4}引用|有.{0,6}?吗|多少|几部|几章|什么时候|哪一?年", ""),
    # circumvent: getting around the filter
    (_C, "ignore previous instructions", ("ignore", "disregard", "forget", "override"),
     r"\b(?:ignore|disregard|forget|override) (?:all |any |the |your |my )*"
     rf"(?:previous |prior |above |earlier |system |original |safety )*{_RULES}\b", "^"),
    (_C, "bypass the filter", ("bypass", "circumvent", "get around", "get past", "evade", "dodge", "trick", "fool",
                               "disable", "turn off", "switch off", "avoid"),
     r"\b(?:bypass|circumvent|get around|get past|evade|dodge|trick|fool|disable|turn off|switch off|avoid) "
     rf"(?:the |your |any |this |all )?(?:copyright |content |safety |word |name )?{_FILTER}\b", "^"),
    (_C, "spell it with dashes", ("spell", "in leet", "with leet", "using leet", "in l33t", "with l33t", "using l33t"),
     r"\bspell (?:it|the name|the title|them|his name|her name|out the name)(?: out)? (?:with|using|in) "
     r"(?:dashes|hyphens|spaces|dots|periods|numbers|underscores|symbols|leetspeak)\b"
     r"|\b(?:in|with|using) (?:leetspeak|l33t|leet)\b", "^"),
    (_C, "without copyright restrictions", ("without", "with no", "ignoring", "free of", "no copyright"),
     r"\b(?:without|with no|ignoring|free of) (?:any )?(?:copyright|content|legal) "
     r"(?:restrictions|limits|limitations|filters|rules|checks|concerns)\b"
     r"|\bno copyright (?:restrictions|rules|filters|limits)\b", "^"),
    (_C, "jailbreak", ("jailbreak", "dan mode", "developer mode", "god mode", "unfiltered", "uncensored",
                       "unrestricted", "you have no"),
     r"\bjailbreak|\b(?:dan|developer|god) mode\b|\b(?:unfiltered|uncensored|unrestricted) "
     r"(?:mode|version|ai|assistant|model)\b|\byou have no (?:restrictions|rules|filters)\b", "^"),
    (_C, "so the filter won't catch it", ("so the", "so your", "so that the", "don t"),
     r"\bso (?:the|your|that the) (?:filter|system|moderation|guard) (?:won t|will not|doesn t|does not|can t|cannot) "
     r"(?:catch|detect|notice|flag|block|see)\b|\bdon t (?:filter|censor|block)\b", "^"),
    (_C, "绕过", ("绕", "规避", "避开", "过滤", "审查", "越狱", "无视", "忽略", "不受", "拆开", "拼音", "谐音", "空格"),
     "绕过|绕开|规避|避开(?:审查|过滤|检测|限制)|不要过滤|别过滤|不要审查|关闭过滤|越狱|不受(?:版权)?限制|拆开写|用拼音|用谐音|加空格"
     "|(?:无视|忽略).{0,8}?(?:指令|规则|提示|限制|要求)", ""),
)  # fmt: skip


def _top_level(rx: str) -> list[str]:
    """The alternatives of ``rx`` outside any group (``a|(?:b|c)`` is ``a``, ``(?:b|c)``)."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(rx):
        c = rx[i]
        if c == "\\":
            i += 2
            continue
        if c in "([":
            depth += 1
        elif c in ")]":
            depth -= 1
        elif c == "|" and depth == 0:
            parts.append(rx[start:i])
            start = i + 1
        i += 1
    return [*parts, rx[start:]]


def _compile(rx: str) -> tuple[re.Pattern[str], bool]:
    """The pattern, with a leading ``\\b`` taken off every alternative and checked after the match instead.

    Python's ``re`` scans for a literal or a set of first characters quickly, but a pattern that opens with
    ``\\b`` is tried at every position: four times slower on a 2 KB prompt.
    """
    parts = _top_level(rx)
    if all(p.startswith("\\b") for p in parts):
        return re.compile("|".join(p[2:] for p in parts)), True
    return re.compile(rx), False


def _reach(flags: str) -> Reach:
    return (
        Reach.ATTACHED
        if "a" in flags
        else Reach.AFTER
        if ">" in flags
        else Reach.BEFORE
        if "<" in flags
        else Reach.BOTH
    )  # noqa: E501


@lru_cache(maxsize=1)
def _compiled() -> tuple[tuple[IntentKind, str, tuple[str, ...], re.Pattern[str], bool, Reach, bool, bool], ...]:
    """The patterns, compiled on first use: a hundred regular expressions are a third of a second, which a
    process that never screens a prompt (a CLI lookup) should not pay at import."""
    return tuple((kind, label, triggers, *_compile(rx), _reach(flags), "w" in flags, "^" in flags)
                 for kind, label, triggers, rx, flags in _PATTERNS)  # fmt: skip


def find_intents(prompt: str) -> list[IntentHit]:
    """Every intent pattern in ``prompt`` (case, full-width forms, look-alikes, traditional characters and
    spacing folded), by position."""
    return find_intents_folded(prepare(prompt))


@lru_cache(maxsize=1)
def _triggers() -> tuple[Any, list[int], list[int], list[list[int]]]:
    """One automaton over every pattern's triggers, valued with the trigger's number; per trigger, the bit mask
    of the patterns it opens (wider than the automaton's 64-bit integers) and its length in UTF-8 bytes; per
    pattern, its triggers' numbers."""
    numbers: dict[str, int] = {}
    masks: list[int] = []
    own: list[list[int]] = []
    for i, (_, _, triggers, *_rest) in enumerate(_compiled()):
        own.append([])
        for t in triggers:
            k = numbers.setdefault(t, len(numbers))
            if k == len(masks):
                masks.append(0)
            masks[k] |= 1 << i
            own[i].append(k)
    automaton = ahocorasick.Automaton(ahocorasick.STORE_INTS)
    for t, k in numbers.items():
        automaton.add_word(bytewise(t), k)
    automaton.make_automaton()
    return automaton, masks, [len(t.encode()) for t in numbers], own


def find_intents_folded(f: Folded) -> list[IntentHit]:
    hits: list[IntentHit] = []
    view, idx = f.view, f.view_index
    automaton, masks, sizes, own = _triggers()
    opened = 0
    found: dict[int, list[int]] = {}  # trigger -> the byte offsets where it ends
    for end, k in automaton.iter(bytewise(view)):
        opened |= masks[k]
        found.setdefault(k, []).append(end)
    char_at = None if view.isascii() else byte_chars(view)
    for i, (kind, label, _, rx, word_start, reach, weak, anchored) in enumerate(_compiled()):
        if not opened >> i & 1:
            continue  # a prompt without any of the pattern's triggers cannot match it: skip the regex
        ms: Iterable[re.Match[str] | None]
        if anchored:
            starts = sorted({e - sizes[k] + 1 for k in own[i] for e in found.get(k, ())})
            ms = (rx.match(view, s if char_at is None else char_at[s]) for s in starts)
        else:
            ms = rx.finditer(view)
        for m in ms:
            if m is None:
                continue
            a, b = m.span()
            if word_start and a and (view[a - 1].isalnum() or view[a - 1] == "_"):
                continue  # the \b taken off by _compile
            while b > a and view[b - 1] == " ":
                b -= 1
            if b > a:
                hits.append(IntentHit(kind, label, int(idx[a]), int(idx[b - 1]) + 1, reach is Reach.ATTACHED,
                                      weak, reach))  # fmt: skip
    hits.sort(key=lambda h: (h.start, h.end, h.kind))
    return hits
