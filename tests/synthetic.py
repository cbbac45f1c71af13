"""Generated Arabic article text for tests and benchmarks that need many distinct articles."""
from __future__ import annotations

import random

VOCAB = ("الحكومة الوزير المشروع المدينة القطاع الخاص الخطة التنمية الاقتصاد التعليم الصحة النقل الطاقة "
         "المياه الزراعة السياحة الثقافة الرياضة التقنية الاستثمار المواطنين المقيمين الخدمات المرحلة "
         "الدراسة التنفيذ الاجتماع المسؤول المصادر الإعلان الأعوام المقبلة تحسين تطوير دعم توسيع إطلاق "
         "افتتاح مناقشة متابعة البلدية الجامعة المستشفى الميناء المطار الطريق الحديقة المكتبة السوق").split()


def prose(n: int, paragraphs: int = 3, words: int = 40) -> list[str]:
    """Paragraphs of article ``n``: its own words, so no two articles share a block of text (a
    learned site template strips what pages share, numbers aside)."""
    rng = random.Random(n)
    return [" ".join(rng.choice(VOCAB) for _ in range(words)) + "." for _ in range(paragraphs)]
