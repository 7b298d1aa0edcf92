"""The mail of a reminder or an escalation, in Chinese (sent by schedules/mail.py)."""

from __future__ import annotations

from datetime import date
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

from lifecycle.deadlines import KIND_NAMES_ZH
from lifecycle.park import Park
from lifecycle.reminder import Reminder


def chinese_date(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def compose(reminder: Reminder, park: Park, address: str, sent_on: date) -> EmailMessage:
    """The mail of one reminder or escalation, in Chinese."""
    kind = KIND_NAMES_ZH.get(reminder.kind, reminder.kind)
    due = chinese_date(reminder.due_on)
    days = (reminder.due_on - sent_on).days
    when = f"还有{days}天" if days > 0 else "今天到期" if days == 0 else f"已逾期{-days}天"
    org = reminder.organization
    if reminder.level:
        subject = f"【督办】{org}：{kind}已逾期（{due}到期，第{reminder.level}次督办）"
    elif days > 0:
        subject = f"【提醒】{org}：{kind}将于{due}到期"
    elif days == 0:
        subject = f"【提醒】{org}：{kind}今天（{due}）到期"
    else:
        subject = f"【提醒】{org}：{kind}已于{due}到期，{when}"
    responsible = reminder.responsible or "未指派"
    body = "\n".join(
        [
            f"{reminder.recipient}：",
            "",
            f"{reminder.organization}的{kind}截止日期为{due}，{when}。",
            f"负责人：{responsible}",
            "请及时办理，并在孵化管理系统中登记。"
            if not reminder.level
            else "该事项已逾期，请督促负责人尽快办理。",
            "",
            f"——{park.name}孵化管理系统（自动发送）",
            f"提醒编号：{reminder.id}（{reminder.step}）",
        ]
    )
    message = EmailMessage()
    message["To"] = formataddr((reminder.recipient, address))
    message["Subject"] = subject
    message["Message-ID"] = reminder.message_id
    message["Date"] = format_datetime(reminder.issued_at)
    message.set_content(body)
    return message
