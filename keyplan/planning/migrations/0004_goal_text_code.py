"""A goal Keyplan writes (a risk case's save plan) is a code with its parameters, read in each reader's language."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('planning', '0003_charter_wallet_raci_version'),
    ]

    operations = [
        migrations.AddField(
            model_name='goal',
            name='text_code',
            field=models.CharField(blank=True, default='', max_length=32),
        ),
        migrations.AddField(
            model_name='goal',
            name='text_params',
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AddField(
            model_name='historicalgoal',
            name='text_code',
            field=models.CharField(blank=True, default='', max_length=32),
        ),
        migrations.AddField(
            model_name='historicalgoal',
            name='text_params',
            field=models.JSONField(blank=True, default=dict),
        ),
    ]
