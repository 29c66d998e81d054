"""The events people and systems can be notified of, with their bilingual subject lines."""

from __future__ import annotations

SUBJECTS = {
    "booking.requested": "预约已提交 Booking requested",
    "booking.approved": "预约已批准 Booking approved",
    "booking.rejected": "预约未获批准 Booking rejected",
    "booking.cancelled": "预约已取消 Booking cancelled",
    "booking.checked_in": "已签到 Checked in",
    "booking.completed": "已完成 Completed",
    "booking.no_show": "未到场 No-show",
    "booking.key_project": "已列入绿色通道 Green channel",
    "waitlist.booked": "候补已转为预约 Waitlist booked",
    "booking.moved": "预约时间已调整 Booking moved",
    "alarm.critical": "严重告警 Critical alarm",
    "alarm.raised": "告警 Alarm raised",
}
