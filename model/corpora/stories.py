"""`stories`: children's stories from a small probabilistic grammar, with their exact entropy.

Every story has a hero (a little animal with a name), a friend, a favourite thing, a home,
a plot (a lost thing, a storm, the dark, a gift, a race, a picnic, a bird, swimming) and an
ending, told in short sentences with dialogue. The grammar (`STORY_RULES`, in the format of
`grammar.py`) is unambiguous: `parse_stories(text)` reads a text back into the choices that
made it.

Why that gives the exact entropy of the text. The map from choices to text is one-to-one (the
parser inverts it), so the probability of a text is the probability of its choices:
`-log P(text) = -sum(log p(choice))`. Divided by the number of characters, that is the number
of nats per character an ideal predictor, knowing the grammar and everything said so far in the
story, would pay on this text: the floor under a language model's loss (in nats per token, for
a character-level model). A real model sees at most `block_size` characters of context, so it
cannot always recall the hero's name from the first line: its floor is somewhat higher.

`info.nats_per_char` is that number for the generated text; `info.rate_nats_per_char` is the
source's exact entropy rate, the limit for a long text: the expected entropy of one story over
its expected length plus the separator (stories are i.i.d. and the blank lines that separate
them are fixed text), both computed from the rules without sampling.

    >>> text, info = generate_stories(n_stories=2, seed=0)
    >>> parse_stories(text) == info.choices
    True
"""

import math
from dataclasses import dataclass

import numpy as np

from model.corpora.grammar import Grammar

SEPARATOR = "\n\n"  # a blank line between stories; no story contains one

# fmt: off
STORY_RULES = {
    "story": [(1, "{opening}\n{meet_friend}\n{plot}\n{ending}")],
    "opening": [
        (3, "Once upon a time, there was a {trait} {kind} named {hero}. {hero} lived {home}. "
            "{hero} had a {thing}, and {hero} loved it very much."),
        (2, "There once was a {trait} {kind} called {hero}, who lived {home}. "
            "{hero}'s favorite thing in the whole world was a {thing}."),
        (2, "{hero} was a {trait} {kind} who lived {home}. "
            "Every day, {hero} played with a {thing}."),
    ],
    "trait": [(4, "little"), (3, "small"), (2, "happy"), (2, "brave"), (2, "curious"), (1, "shy"),
              (1, "sleepy"), (1, "clever"), (1, "gentle"), (1, "playful")],
    "kind": [(3, "fox"), (3, "rabbit"), (2, "mouse"), (2, "duck"), (2, "kitten"), (2, "puppy"),
             (1, "squirrel"), (1, "hedgehog"), (1, "bear")],
    "hero": [(1, "Pip"), (1, "Milo"), (1, "Luna"), (1, "Rosie"), (1, "Benny"), (1, "Daisy"),
             (1, "Toby"), (1, "Lily"), (1, "Max"), (1, "Coco"), (1, "Finn"), (1, "Poppy")],
    "home": [(2, "in a cozy burrow under an old oak tree"), (2, "in a little house by the river"),
             (2, "at the edge of a big green forest"), (1, "on a quiet farm"),
             (1, "near a sparkling pond"), (1, "in a garden full of flowers"),
             (1, "on top of a windy hill")],
    "thing": [(2, "red ball"), (2, "blue kite"), (1, "shiny stone"), (1, "yellow hat"),
              (1, "wooden boat"), (1, "little drum"), (1, "green scarf")],
    "friend": [(1, "Hoot"), (1, "Ollie"), (1, "Sunny"), (1, "Pebble"), (1, "Ziggy"),
               (1, "Wren"), (1, "Clover"), (1, "Bramble")],
    "friend_kind": [(2, "owl"), (2, "frog"), (2, "turtle"), (1, "goat"), (1, "crow"),
                    (1, "beaver"), (1, "snail"), (1, "lamb")],
    "meet_friend": [
        (2, "{hero}'s best friend was {friend} the {friend_kind}."),
        (1, "{hero} had a good friend, {friend} the {friend_kind}."),
        (1, "{friend} the {friend_kind} lived nearby, and {friend} was {hero}'s best friend."),
    ],
    "plot": [
        (3, "{lost}"), (2, "{storm}"), (2, "{dark}"), (2, "{gift}"), (1, "{race}"),
        (2, "{picnic}"), (2, "{bird}"), (1, "{swim}"),
    ],
    "when": [(3, "One day"), (2, "One morning"), (1, "One sunny afternoon"),
             (1, "One windy evening")],
    "lost": [
        (1, "{when}, {hero} could not find the {thing}. \"{worry}\" cried {hero}.\n"
            "{hero} ran to {friend} and said, \"{friend}, my {thing} is gone! Will you help me?\"\n"
            "\"Of course!\" said {friend}. So {hero} and {friend} looked {spot}. "
            "Then they looked {spot}. At last, {finder} found the {thing} {hiding}.\n"
            "\"Thank you, {friend}!\" said {hero}, and {hero} gave {friend} a big hug."),
    ],
    "worry": [(2, "Oh no! Where is my {thing}?"), (1, "Where did it go?"),
              (1, "I have looked everywhere!")],
    "spot": [(2, "under the bed"), (2, "behind the door"), (1, "in the tall grass"),
             (1, "under a big rock"), (1, "near the river"), (1, "in the old barn")],
    "finder": [(1, "{hero}"), (1, "{friend}")],
    "hiding": [(2, "under a pile of leaves"), (1, "in a muddy puddle"),
               (1, "on a high branch"), (1, "inside a flower pot")],
    "storm": [
        (1, "{when}, dark clouds filled the sky. Rain fell and the wind blew very hard.\n"
            "\"{scared}\" said {hero}. {friend} sat close to {hero} and said, \"{calm}\"\n"
            "They sat together {shelter} and told stories until the storm was over. "
            "When the sun came out, they saw a {sky} in the sky."),
    ],
    "scared": [(2, "I am scared of the storm,"), (1, "The thunder is so loud!"),
               (1, "Will the wind blow our home away?")],
    "calm": [(2, "Do not be afraid. We are safe here."), (1, "Storms never last forever."),
             (1, "I am here with you.")],
    "shelter": [(2, "under a big tree"), (1, "inside a warm cave"), (1, "by the fire")],
    "sky": [(3, "big rainbow"), (1, "bright blue patch"), (1, "flock of birds")],
    "dark": [
        (1, "That night, {hero} could not sleep. It was very dark, and {hero} heard a strange "
            "sound.\n\"{who}\" whispered {hero}. {friend} came with a little lamp.\n"
            "\"Look, {hero},\" said {friend}. \"It is only {noise}.\" {hero} laughed. "
            "The dark was not so scary after all."),
    ],
    "who": [(2, "Who is there?"), (1, "What was that?"), (1, "Is somebody outside?")],
    "noise": [(2, "the wind in the trees"), (1, "a cricket singing"),
              (1, "a branch tapping on the window"), (1, "the rain on the roof")],
    "gift": [
        (1, "{when}, {hero} saw that {friend} looked sad. \"What is wrong?\" asked {hero}.\n"
            "\"{sad}\" said {friend}. {hero} thought for a while. Then {hero} had an idea.\n"
            "{hero} {made} and gave it to {friend}. {friend} smiled a big smile. "
            "\"This is the best day ever!\" said {friend}."),
    ],
    "sad": [(2, "Nobody remembered my birthday,"), (1, "I lost my favorite toy,"),
            (1, "I feel lonely today,")],
    "made": [(2, "picked a bunch of flowers"), (1, "baked a sweet berry cake"),
             (1, "painted a bright picture"), (1, "built a little boat out of sticks")],
    "race": [
        (1, "{when}, {friend} said, \"Let us have a race {course}!\" \"Yes!\" said {hero}.\n"
            "They ran as fast as they could. {race_turn} They finished the race together.\n"
            "\"Winning is fun,\" said {hero}, \"but friends are better.\""),
    ],
    "course": [(2, "to the big tree"), (1, "around the pond"), (1, "up the hill")],
    "race_turn": [
        (1, "{hero} was in front, but then {hero} {stumble}. {friend} stopped to help."),
        (1, "{friend} was in front, but then {friend} {stumble}. {hero} stopped to help."),
    ],
    "stumble": [(2, "tripped over a root"), (1, "slipped in the mud"), (1, "got very tired")],
    "picnic": [
        (1, "{when}, {hero} and {friend} went on a picnic {picnic_place}. They brought "
            "{food} and a {thing}.\nThey ate and played and laughed all afternoon. "
            "\"{picnic_line}\" said {friend}."),
    ],
    "picnic_place": [(2, "by the river"), (1, "on the hill"), (1, "in the meadow")],
    "food": [(2, "apples and bread"), (1, "cheese and berries"), (1, "carrots and honey")],
    "picnic_line": [(2, "Let us do this again tomorrow!"), (1, "This is the best picnic ever!"),
                    (1, "I love spending the day with you,")],
    "bird": [
        (1, "{when}, {hero} found a baby bird on the ground. It had fallen out of its nest.\n"
            "\"{bird_line}\" said {hero}, and {hero} ran to get {friend}.\n"
            "{friend} {lift}, and together they put the baby bird back in its nest. "
            "The mother bird sang a happy song."),
    ],
    "bird_line": [(2, "Poor little bird! We must help it,"),
                  (1, "Do not worry, little bird. We will help you,"),
                  (1, "Oh! Where is your mother?")],
    "lift": [(2, "climbed up the tree"), (1, "found a long ladder"),
             (1, "stood on a big rock")],
    "swim": [
        (1, "{when}, {hero} wanted to learn to swim, but the water looked deep and cold.\n"
            "\"{swim_fear}\" said {hero}. \"I will show you,\" said {friend}. \"{swim_tip}\"\n"
            "{hero} tried again and again. At last, {hero} could swim all the way across "
            "the pond! \"I did it!\" shouted {hero}."),
    ],
    "swim_fear": [(2, "I cannot do it,"), (1, "What if I sink?"), (1, "The water is too cold!")],
    "swim_tip": [(2, "Kick your legs and move your arms."),
                 (1, "Go slowly, one little step at a time."),
                 (1, "Take a deep breath and do not give up.")],
    "ending": [
        (3, "From that day on, {hero} and {friend} were the best of friends."),
        (2, "That night, {hero} fell asleep with a happy smile."),
        (2, "{hero} learned that {lesson}."),
        (1, "And they all lived happily ever after. The end."),
    ],
    "lesson": [(2, "friends always help each other"), (1, "it is good to be kind"),
               (1, "being brave is easier with a friend")],
}
# fmt: on

STORY_GRAMMAR = Grammar(STORY_RULES, start="story", bound=("hero", "thing", "friend"))


@dataclass(frozen=True)
class StoriesInfo:
    """What the generator knows about a text it made.

    choices: one list of `(symbol, alternative index)` per story, in the order they were made.
    log_prob: `log P(text)` in nats, the sum of `log p` over every choice (<= 0).
    n_chars: `len(text)`.
    rate_nats_per_char: the source's exact entropy rate (nats per character).
    """

    choices: list
    log_prob: float
    n_chars: int
    rate_nats_per_char: float

    @property
    def nats_per_char(self):
        """This text's entropy per character, `-log P(text) / len(text)`: the loss floor."""
        return -self.log_prob / self.n_chars

    @property
    def bits_per_char(self):
        return self.nats_per_char / math.log(2)

    @property
    def rate_bits_per_char(self):
        return self.rate_nats_per_char / math.log(2)


def entropy_rate_nats_per_char():
    """Exact entropy rate of the story source: E[-log P(story)] / (E[len(story)] + separator)."""
    return STORY_GRAMMAR.expected_entropy() / (STORY_GRAMMAR.expected_length() + len(SEPARATOR))


def generate_stories(n_chars=None, n_stories=None, seed=0):
    """Stories joined by blank lines, ending in a newline: returns `(text, StoriesInfo)`.

    Give exactly one of `n_stories` or `n_chars` (whole stories are added until the text has at
    least `n_chars` characters). The same seed always gives the same text.
    """
    if (n_chars is None) == (n_stories is None):
        raise ValueError(f"give exactly one of n_chars={n_chars!r} and n_stories={n_stories!r}")
    limit = n_chars if n_stories is None else n_stories
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        name = "n_chars" if n_stories is None else "n_stories"
        raise ValueError(f"{name} must be a positive int, got {limit!r}")
    rng = np.random.default_rng(seed)
    uniforms = iter(())

    def next_uniform():  # draws from NumPy in blocks: a Python call per number is slow
        nonlocal uniforms
        for u in uniforms:
            return u
        uniforms = iter(rng.random(4096).tolist())
        return next(uniforms)

    stories, choices, log_prob, length = [], [], 0.0, -len(SEPARATOR)
    while (length if n_stories is None else len(stories)) < limit:
        story, story_choices, story_log_prob = STORY_GRAMMAR.sample(next_uniform)
        stories.append(story)
        choices.append(story_choices)
        log_prob += story_log_prob
        length += len(story) + len(SEPARATOR)
    text = SEPARATOR.join(stories) + "\n"
    return text, StoriesInfo(choices, log_prob, len(text), entropy_rate_nats_per_char())


def parse_stories(text):
    """Read generated text back into its choices: one list of `(symbol, index)` per story.

    Raises ValueError naming the story if it has no parse (not made by this grammar) or more
    than one (which would mean the grammar is ambiguous).
    """
    if not text.endswith("\n"):
        raise ValueError("stories text must end with a newline")
    result = []
    for number, story in enumerate(text[:-1].split(SEPARATOR)):
        parses = STORY_GRAMMAR.parse(story)
        if len(parses) != 1:
            first_line = story.split("\n", 1)[0][:60]
            raise ValueError(f"story {number} ({first_line!r}...) has {len(parses)} parses, not 1")
        result.append(parses[0])
    return result
