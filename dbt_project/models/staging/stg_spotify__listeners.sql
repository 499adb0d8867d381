select listener_id, display_name, timezone
from {{ source('raw', 'listeners') }}
