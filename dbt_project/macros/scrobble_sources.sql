{#- The sources that time a play by its start and give no play time: scrobblers. Kept in step
    with warehouse/loaders.py SCROBBLE_SOURCES. -#}
{% macro scrobble_sources() -%}
('lastfm', 'listenbrainz')
{%- endmacro %}
