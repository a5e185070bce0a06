"""What the classifier knows, as data: keywords, clear phrases, benign look-alikes, doubts.

Every pattern is written as people spell it and matched against canonical text
(app.consent.text: accents gone, repeated letters collapsed, apostrophes dropped): `rx`
canonicalises the pattern's words the same way, so "call" matches "CALLL" and "calll".
Sources: docs/notes/compliance.md §2 (FCC 24-18's per-se words, CTIA, Twilio's list) and
docs/notes/twilio-resend.md §6; the English and Spanish phrases and look-alikes are ours.
"""

from __future__ import annotations

import re

from app.consent.text import canon_word


def rx(pattern: str) -> re.Pattern[str]:
    """A whole-word pattern over canonical text (words of the pattern canonicalised)."""
    body = re.sub(r"(?<!\\)[a-z]+", lambda m: canon_word(m.group()), pattern)
    return re.compile(r"(?<![a-z0-9])(?:" + body + r")(?![a-z0-9])")


def words(*items: str) -> frozenset[str]:
    return frozenset(canon_word(w) for item in items for w in item.split())


# Keywords: Twilio's defaults, FCC 24-18's per-se words, CTIA, and Spanish equivalents.
# STRONG ones are an opt-out wherever they stand alone in a clause ("Stop. Wrong number");
# WEAK ones only when they are the whole message: "Cancel, I'm sick today" cancels a visit.
STRONG = words(
    "stop stopall unsubscribe optout revoke remove nomore enough basta alto parar detener "
    "baja desuscribir nomas"
)
WEAK = words("cancel end quit para fin cancelar salir")
START = words("start yes unstop")
HELP = words("help info ayuda")
# Words that may surround a keyword without changing it ("stop it 🙏", "STOP!!! thanks").
FILLER = words(
    "please thanks thank you now it this that these them already just ok okay again asap "
    "right immediately seriously for real god omg lol dude man bro yes no sir maam hey hi "
    "hello damn fucking freaking frickin the hell al ever forever anymore guys yal and so i "
    "said saying thats its is me wtf jesus lord bye goodbye dear ugh geez jeez k kk me "
    "gracias por favor porfa porfavor ya ahora senor senora hola oye de mas todo en serio "
    "mi amigo pues sorry but look yeah yea listen well oh um mira"
)
# Multi-word keywords joined before anything else (into canonical words).
JOINS = [
    (rx(r"opt out|opt-out|opt of|op out"), "optout"),
    (rx(r"stop all|stop everything|stop everyone"), canon_word("stopall")),
    (rx(r"un subscribe|unsubscribe me|unsub me"), "unsubscribe"),
    (rx(r"no more|no mas|nomore"), "nomore"),
    (rx(r"s top|st op|sto p"), "stop"),
]

# Benign look-alikes: spans removed before the opt-out phrases are looked for.
_NOUNS = (
    r"ac|a c|air|furnace|heater|unit|toilet|sink|faucet|tap|pipes?|dog|cat|tooth|teeth|gums?|"
    r"leak|leaks|roof|car|engine|baby|kids?|son|daughter|water|drip|noise|pain|bleeding|"
    r"alarm|thermostat|fan|compressor|bill|payment|check|service|subscription to \w+"
)
BENIGN = [
    rx(
        r"(dont|do not|never|wont|cant|didnt|doesnt|couldnt|wouldnt|shouldnt|will not|can not|"
        r"cannot|did not|does not|would not|could not|never ever) (ever )?stop"
    ),
    rx(
        r"stop (by|in|over|at(?! once)|on by|round|around|back|and see|and get|for|to get|"
        r"to see|to pick|on your way|when)"
    ),
    rx(
        r"(bus|pit|truck|one|last|first|next|rest|full|non|door|water|drain|shut off|emergency) "
        r"stop"
    ),
    rx(
        r"nonstop|stopcock|stop (sign|light|valve|cock|gap|leak|leaking|working|running|"
        r"dripping|draining|flowing|heating|cooling|blowing|making|beeping|squeaking|"
        r"hurting|bleeding|itching|raining)"
    ),
    rx(r"stop (it|them|him|her|this|that|water|my \w+|the \w+|\w+) from"),
    rx(r"stop (my|the|our|a|this|that) (" + _NOUNS + r")"),
    rx(
        r"cancel (my|the|our|this|that|tomorrows|todays|your|an|a|his|her|mondays|fridays)? ?"
        r"(appointment|apointment|appt|apt|visit|booking|reservation|order|service call|"
        r"service|meeting|cleaning|checkup|check up|exam|consultation|consult|install|"
        r"installation|estimate|job|plumber|tech|technician|cita|the \d+)"
    ),
    rx(
        r"end of (the )?(day|week|month|year|summer|winter|june|july)|in the end|"
        r"the end of|weekend"
    ),
    rx(
        r"spam (folder|filter|box|carpeta)|(went|goes|go|ended up|landed) (to|in|into) "
        r"(my |the |your )?spam|(in|check) (my |your |the )spam"
    ),
    rx(
        r"(stop|cancel) (the |my )?(autopay|auto pay|payment|check|subscription to \w+)|"
        r"unsubscribe (from )?(the |my )?(paper|paperles|bils?|statements?|autopay)"
    ),
    rx(r"stop (using|taking|eating|drinking|smoking|doing|paying|brushing|flossing)"),
]

# Clear opt-outs anywhere in the message (after the look-alikes are removed).
_ING = (r"texting|txting|messaging|msging|msgng|sending|contacting|calling|emailing|"
        r"bothering|harassing|spamming|bugging|hitting me up|reaching out|ringing|pestering|"
        r"blowing up my phone|writing|mailing")  # fmt: skip
_NOUN = (r"texts?|text messages?|messages?|sms|spam|calls?|phone calls?|emails?|e mails?|"
         r"notifications?|reminders?|promos?|promotions?|ads|offers|marketing|robocalls?|"
         r"voicemails?|solicitations?|junk|mail|newsletters?|alerts?|updates")  # fmt: skip
_VERB = r"text|message|msg|contact|call|email|e mail|bother|harass|spam|send|reach out|" \
        r"reach|ring|pester|write|hit me up|mail"  # fmt: skip
_ME = (
    r"(me|us)(?! (the|a|an|that|those|it|your|when|if|before|after|until|back)\b)|"
    r"my \w+|this number|this phone|him|her|them|here|again|anymore|ever"
)
_ES_VERB = (r"escriban|escribas|escriba|manden|mandes|mande|envien|envies|envie|llamen|llames|"
            r"llame|contacten|contactes|contacte|molesten|molestes|moleste|textees|texteen|"
            r"marquen|marques|busquen")  # fmt: skip
_ES_INF = r"escribir|mandar|enviar|llamar|molestar|contactar|textear|marcar"
_ES_NOUN = r"mensajes|mensajitos|textos|llamadas|correos|emails|sms|publicidad|promociones|" \
           r"ofertas|spam"  # fmt: skip
OPT_OUT = [
    rx(
        r"(stop|quit|cease|end|nomore|enough|no need for|stop al|stop with the|knock of the|"
        r"cut (it )?out( the)?) (the )?(" + _ING + ")"
    ),
    rx(
        r"(stop|quit|end|cease|nomore|enough( with| of)?|cancel|cut out|stop sending( me)?|"
        r"(quit|knock) it( of)? with|cut it out with|done with) "
        r"(the |these |those |your |ur |al |al the |al these |al of these |al your |al ur |"
        r"any |any more |of )*(" + _NOUN + ")"
    ),
    rx(
        r"(dont|do not|never|stop trying to|no need to|please dont|dont ever|do not ever|"
        r"dont you dare|dnt|u dont need to|you dont need to) (ever )?("
        + _VERB
        + ")( (or|and|nor) ("
        + _VERB
        + "))* ("
        + _ME
        + ")"
    ),
    rx(
        r"(remove|delete|erase|wipe|purge) (me|us|him|her|"
        r"my (number|phone number|name|info|information|contact|contact info|details|email|"
        r"phone|cell|cel|data|address)|this (number|phone|cell|contact)|our number)"
    ),
    rx(
        r"(be |get |being |been |want to be )?(removed|unsubscribed|taken of|deleted|"
        r"erased) (from|of)|(i want|want|get me|i need|need) (of|out of) (this|your|the|ur)|"
        r"take (me|us|this number|my number) (of|out)( of)?( (your|the|this|ur|al|these|that|"
        r"those))?( \w+)? (list|lists|database|system|contacts|texts|mesages|calls|emails)|"
        r"(of|out of) (your|the|this|ur|al) (\w+ )?(list|lists|database|system|contacts)"
    ),
    rx(r"(do not|dont|dnc) (cal|contact)? ?(list|registry)|dnc|do not disturb|dnd"),
    rx(
        r"unsubscribe|optout|opt me out|opting out|revoke|withdraw (my )?consent|"
        r"no longer consent|dont consent|do not consent"
    ),
    rx(
        r"leave (me|us|my family) alone|(lose|forget|delete|erase) (my|this|the|our) number|"
        r"(fuck|f|piss|bug|buzz|back|shove|screw|sod|bugger) (of|it)|go to hell"
    ),
    rx(
        r"(dont|do not|no longer|never) (want|wish|need|like)( to (get|receive|be sent|hear|"
        r"see))?( any)?( more)?( of)?( these| your| the| this| ur| those| al)? ("
        + _NOUN
        + r"|contact|info|information|from you|you (to )?("
        + _VERB
        + r"))"
    ),
    rx(
        r"(dont|do not|never|no longer|not) (want|wish|like) to be (contacted|texted|called|"
        r"emailed|messaged|bothered|on your list)"
    ),
    rx(
        r"(doesnt|does not|dont|no longer|not) (belong|belongs) to|(new|different) owner|"
        r"(is not|isnt|not) \w+s (number|phone|cel|cell)|cease|desist|"
        r"wrong (number|num|no|person|#|guy|girl|lady|phone)|(numero|persona) equivocad[oa]|"
        r"se equivoc\w+( de numero)?|not (the right|the correct|my) number"
    ),
    rx(
        r"(never|didnt|did not|dont remember|do not remember) (sign|signed|signing) up|"
        r"(never|didnt|did not) (opt|opted|subscribe|subscribed|agree|agreed|consent|"
        r"consented|give you|gave you|ask|asked) (in|for|to|permission|my|this|consent|\w+)"
    ),
    rx(
        r"spam\w*|harass\w*|"
        r"(report|reporting|reported) (you|u|this|your)|lawyer|attorney|lawsuit|tcpa|fcc|ftc|"
        r"(ill|i will|gona|going to|im going to|will) sue|sue you"
    ),
    rx(
        r"(block|blocking) (you|u|your|this|ur|the number|ya)|(im|i am|ima|gona|going to|"
        r"will|ill|about to) block|blocked|bloquear|bloqueado"
    ),
    rx(
        r"(you|u|yal|they|you guys|you people|why do you|why|wil you|you wont|stil) keep "
        r"(on )?(" + _ING + ")|(" + _ING + ") me (every day|constantly|nonstop|al the)"
    ),
    rx(
        r"(no longer|not|nt|never been|never|no) (really |at al |even |very |remotely )?"
        r"interested (anymore|any more|ever)"
    ),
    # Spanish
    rx(r"no (me |nos |le )?(" + _ES_VERB + r")"),
    rx(r"(dejen|deja|deje|dejar|dejes|pare|paren|para|parar|paren) de (" + _ES_INF + r")(me|nos)?"),
    rx(
        r"(nomore|no quiero|no queremos|no deseo|ya no quiero)( recibir)?( mas)? (" + _ES_NOUN + ")"
    ),
    rx(r"(no (quiero|deseo|queremos)) (que me|ser) (" + _ES_VERB + r"|contactad[oa]|llamad[oa])"),
    rx(r"(dar|darme|darnos|dame|denme|den|doy|quiero darme|darse|dan) de baja|de baja"),
    rx(
        r"(quiten|quitenme|quitame|quitarme|saquen|saquenme|sacame|sacarme|borren|borrenme|"
        r"borrame|borrar|eliminen|eliminenme|eliminame|eliminar|remuevan|remuevanme|bajenme)"
        r"( de (la|su|tu|esta|sus) (lista|base)| mi (numero|telefono|cel|celular)| mis datos)?"
    ),
    rx(r"(dejenme|dejame|dejeme|dejanos|dejennos) (en paz|tranquil[oa])"),
    rx(
        r"no (me |nos )?(vuelvan|vuelva|vuelvas|volver) a (" + _ES_INF + r")(me|nos)?|"
        r"no (" + _ES_INF + r")(me|nos)?|(basta|alto|parar|para|paren|pare|stop|cancelar|fin|"
        r"nomore)( de| los| las| con los| con las| con)? (" + _ES_NOUN + ")"
    ),
    rx(
        r"(cancel|end|stop) (my |the |this |your )?subscription$|"
        r"(cancel|end|stop) (my |the |this )?subscription (to|of) (these|your|the|this) "
        r"(texts|mesages|alerts|list|calls|emails)"
    ),
    rx(r"cancelar (la |mi )?suscripcion|anular (la |mi )?suscripcion|no molestar"),
]
# Opt-outs only when they make a clause on their own (they have everyday senses too).
CLAUSE_OPT_OUT = [
    rx(
        r"^(please |pls |just |and )?(do not|dont) (contact|text|call|email|message|disturb)"
        r"( me| us| this number| again| anymore| ever)*$"
    ),
    rx(r"^(please |pls |just |ok |now )*cut it out"),
    rx(
        r"^(please |just |ok |now )*(go away|get lost|buzz of|bye forever|shut up|"
        r"enough already|thats enough|stop it now)$"
    ),
    rx(
        r"^(please |pls |just )?take (me|us|my number|this number) (of|out)( please| thanks| now|"
        r" asap| of (it|this|here))*$"
    ),
]
# A keyword as an imperative with a word or two around it: covers what a keyword covers.
CLAUSE_KEYWORD = rx(
    r"^(no |nope |nah |ok )?(please |pls )*(stop|unsubscribe|remove)( me| us| it| this| now|"
    r" please| pls| thanks| already| asap)*$"
)
# "Not interested": an opt-out when it is the whole point, a doubt inside a longer message.
NOT_INTERESTED = rx(
    r"(not|no longer|nt|never|no|im not|we are not|were not) (really |at al |even |very |"
    r"remotely )?interested|no (estoy|estamos|estoy para nada) interesad[oa]s?|"
    r"no (me|nos) interesa|no interesad[oa]s?|"
    r"no interest(?! (financing|rate|loan|plan|payment|payments|option|for))"
)
# "Not interested in financing": a narrower decline than "not interested", so a doubt.
INTERESTED_IN_SOMETHING = rx(
    r"interested in (?!(this|it|that|your|ur|these|those|any|anything|you|the offer|them|al|"
    r"doing business|buying|hearing|getting|receiving)\b)\w+"
)
NOT_INTERESTED_MAX_WORDS = 7

# Doubts: not a clear revocation, not clearly a reply either → held for a human.
# Limits on when or how, not a revocation of contact: checked before the phrases.
CONTACT_LIMITS = rx(
    r"(dont|do not|please dont) (" + _VERB + r") (me |us )?(before|after|until|til|"
    r"at(?! al)|during|on(?! this| my| here)|between|today|tonight|tomorrow|this week|"
    r"right now|now|at work|while|so early|so late|this early|this late|on weekends|on sundays)"
)
AMBIGUOUS = [
    (
        rx(
            r"(how|where) did (you|u) get (my|this) (number|info|information|email|contact)|"
            r"(de )?donde (sacaron|obtuvieron|consiguieron) mi (numero|telefono)"
        ),
        "how_got_number",
    ),
    (
        rx(r"why (are|r|do) (you|u) (keep )?(" + _ING + r")|por que me (" + _ES_VERB + ")"),
        "why_contacting",
    ),
    (
        rx(
            r"^(?=.*(no thanks|no thank you|nah|nope|no gracias|no grax|no ty|ill pass|im good|"
            r"were good|no way))((no thanks|no thank you|nah|nope|no gracias|no grax|no ty|pass|"
            r"ill pass|im good|were good|no way|thanks|thank you|no|ok|you|al good) ?)+$|"
            r"^(i )?(dont|do not) (want|need) (it|that|this|any)( thanks| thank you)?$|^ya no$"
        ),
        "declined",
    ),
    (rx(r"(please|pls) (dont|do not)$|(too many|so many) (" + _NOUN + ")"), "complaint"),
    (
        rx(
            r"^(this is not|this isnt|im not|i am not|its not|not|wrong) (?!(sure|home|here|there|"
            r"ready|available|free|able|interested|done|going|coming|mad|upset|angry|ok|okay|busy|"
            r"certain|aware|worried|yet|now|today|really|working|bad|good|great|fine|cheap|"
            r"expensive|it|that|this|me|you|him|her|them|again|much|a|an|the|in|at|out|on|off|"
            r"around|back|awake|up|too|so|sick|late|early|kidding|sure yet)\b)[a-z]+$"
        ),
        "not_the_lead",
    ),
    (rx(r"who (gave|sold) (you|u) my|(is this|this is) (a )?scam|scam"), "suspicion"),
]

# The channels a revocation's words name (an opt-out covers the channel it came by too).
SMS_WORDS = rx(r"texts?|texting|texted|text messages?|messages?|messaging|sms|whatsapp|"
               r"mensajes?|mensajitos|textos?|escrib\w*|text\w*|mand\w*|envi\w*|msg\w*|"
               r"notifications?|reminders?|writing")  # fmt: skip
CALL_WORDS = rx(r"calls?|calling|called|phone calls?|ring|ringing|robocalls?|voicemails?|"
                r"llam\w*|marc\w*")  # fmt: skip
EMAIL_WORDS = rx(r"emails?|emailing|e mails?|mail|mails|mailing|correos?|newsletters?")
ALL_WORDS = rx(
    r"contact\w*|lists?|lista|everything|al of \w+|al (comunication|contact|forms|channels)|"
    r"comunication|anything|alone|paz|remove|delete|erase|database|"
    r"system|baja|stopall|bother\w*|harass\w*|molest\w*|lose my|forget my|sue|lawyer|"
    r"attorney|dnc|disturb|datos|go away|block\w*|unsubscribe|optout|revoke|consent|"
    r"sign\w* up|spam\w*|any way|any form|any means"
)
PHONE_ONLY = rx(r"wrong (number|num|no|#|phone)|numero equivocado|not (the right|the correct|"
                r"my) number|(doesnt|does not|dont|no longer|not) (belong|belongs) to|"
                r"(is not|isnt|not) \w+s (number|phone|cel|cell)")  # fmt: skip
