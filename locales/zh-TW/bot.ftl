# 示範機器人的文字 (zh-TW)。
hello = { $name }，你好！很高興認識你。
did-not-understand = 抱歉，我不明白。說「hi」開始吧。
welcome = 歡迎，{ $name }！隨時說「hi」。
greeting-text = {"{{"}user_first_name{"}}"} 你好，這是 pagebot 示範。
menu-help = 說明
menu-site = 網站
