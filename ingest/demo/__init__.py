"""The embedded demo listener: a seeded, deterministic listening history.

It emits the same raw records as the Spotify API and export importers (a `RawBatch`)
and lands through the same loaders, so every stage can run without an account.

Hidden rules (tests check that the models recover them):

1. Catalog. Eight genres in four mood families; every artist has one or two genres of
   one family; audio features are Beta-distributed around the family's profile
   (`MOOD_PROFILES`), so tracks of a family sit together in feature space:
   calm (ambient, classical), mellow (jazz, folk), upbeat (pop, hip hop),
   intense (edm, metal).
2. Daily and weekly rhythm. In each local hour a session starts with probability
   `session_start_probability(hour, weekday)`: on weekdays the peaks are 07, 12, 18
   and 21 h; on weekends 10, 20 and 22 h; nights are nearly silent. A session never
   starts while the previous one is running or less than 45 minutes after it ended.
3. Session length. Log-normal number of tracks (median about 15), tracks back to back
   with gaps of 0-5 seconds; so a gap of more than 30 minutes always means a new session.
4. Moods lean on the time of day. A session's first mood is drawn from `MOOD_BY_PART_OF_DAY`
   (calm mornings, upbeat afternoons, intense evenings, mellow nights). Each next track
   keeps the current mood with probability `MOOD_PERSISTENCE`; otherwise its mood is drawn
   again from the time-of-day distribution. So the next mood depends on both the last
   mood and the hour, which neither a transition table nor an hour table sees alone.
5. Skips and short plays. A track is skipped (3-29 s played, reason_end `fwdbtn`) with
   probability 0.08, or 0.35 right after the mood changed; 7 % of the rest stop early.
6. No structure (`rhythm=False`): a control listener whose sessions start with the same
   probability (`FLAT_SESSION_PROBABILITY`) in every hour and whose moods are drawn
   uniformly whatever the hour; only the persistence within sessions remains.
7. Time. Sessions are laid out in the listener's local time (default Europe/Berlin) and
   stored in UTC, so the history crosses both daylight-saving changes of the year.
   The history ends on `DEFAULT_END` (fixed, so the data never depend on today's date).
8. Listeners differ by `Profile` (`PROFILES`): their peaks move by `shift` hours (and
   their day with them: a night owl's evening is three hours later); `contrast` flattens
   peaks toward the quiet hours and `activity` scales both; they listen on a share
   `listening_days` of days only; they play only some mood families; `persistence` is
   their own; and with `drift_days` their peaks move an hour later every that many days.
   `steady` is rules 2-5 as stated; `real` is a sparse listener like a real person
   (fewer plays, weaker and drifting habits, three moods). A household (`HOUSEHOLD`) cycles
   through the steady listener, a night owl in New York and an early bird in Tokyo.
9. Truth. Asked to (`Truth`), the generator also records the probabilities it drew from: for
   each local hour, P(a session starts) = the hour's start probability times the share of
   listening days (whether today is one is luck, not knowledge) times the share of its start
   minutes not blocked by a running session; for each play, the distribution over mood
   families its mood was drawn from. That is the best any predictor could know: the oracle the
   models are measured against (ml/oracle.py). It is never landed and never trained on.

`rules.py` holds the rhythm and mood rules (2, 4, 6, 8) as numbers, `catalog.py` the catalogue
(rule 1), `generator.py` the plays (rules 3, 5, 7), `truth.py` what the generator knew (rule 9),
and `files.py` the data downloads and features files it writes for the benchmark and the tests.
"""

