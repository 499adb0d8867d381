{#- Models renamed in a release leave their old relation behind in a warehouse built before it
    (dbt builds the new name and forgets the old one). on-run-start drops those, once; a no-op
    afterwards (the relation cache answers, nothing is queried). -#}
{% macro drop_renamed_models() %}
{%- set renamed = [('intermediate', 'int_plays_sessionized'), ('intermediate', 'int_play_mood_states')] -%}
{%- for schema, identifier in renamed -%}
{%- set old = adapter.get_relation(database=target.database, schema=schema, identifier=identifier) -%}
{%- if old is not none -%}
{%- do adapter.drop_relation(old) -%}
{%- endif -%}
{%- endfor -%}
{% endmacro %}
