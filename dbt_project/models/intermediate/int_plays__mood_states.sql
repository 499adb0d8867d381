-- For each play, what is known once it has been heard: its mood and features and the two
-- moods before it. The next-track training row for play t is the state of play t-1.
{{ mood_states(ref('fct_plays')) }}
