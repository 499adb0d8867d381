{{ config(tags=['daily']) }}
-- The plays the listening statistics count: int_plays__described without the plays the
-- settings exclude (an artist, a track, plays shorter than the minimum). The raw plays stay.
select *
from {{ ref('int_plays__described') }}
where excluded_because is null
